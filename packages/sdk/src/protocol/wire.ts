/** JSON shapes of the key directory on the wire (docs/api.md "Key directory"). */
export interface PreKeyJson {
  keyId: number;
  publicKey: string;
}

export interface SignedPreKeyJson {
  keyId: number;
  publicKey: string;
  signature: string;
}

/** Body of POST /keys/upload. */
export interface KeyUpload {
  identityKey: string;
  registrationId: number;
  signedPreKey: SignedPreKeyJson;
  preKeys: PreKeyJson[];
  kyberPreKeys: SignedPreKeyJson[];
  kyberLastResortPreKey?: SignedPreKeyJson;
}

export interface DeviceBundleJson {
  deviceId: number;
  registrationId: number;
  signedPreKey: SignedPreKeyJson;
  preKey?: PreKeyJson | null;
  kyberPreKey?: SignedPreKeyJson | null;
}

export interface BundleJson {
  userId: string;
  identityKey: string;
  devices: DeviceBundleJson[];
}

export type EnvelopeType = 'prekey' | 'message';

export interface Ciphertext {
  type: EnvelopeType;
  content: string;
}
