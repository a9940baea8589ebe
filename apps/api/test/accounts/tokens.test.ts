import { describe, expect, it } from 'vitest';
import { Tokens } from '../../src/services/accounts/tokens.js';

const claims = { userId: '6f1c2b1e-8d3a-4c5e-9f7a-1b2c3d4e5f60', deviceId: 2, version: 3 };

describe('access tokens: the verified-token cache', () => {
  it('a verified token is recognised again until its exp, then refused as expired; nothing else rides on it', async () => {
    const tokens = new Tokens('unit-secret-unit-secret-unit-secret', 1);
    const token = await tokens.signAccess(claims);
    expect(await tokens.verifyAccess(token)).toEqual(claims);
    // The same text again: from the cache, the same claims.
    expect(await tokens.verifyAccess(token)).toEqual(claims);
    // A token differing in one character of its signature is checked in full and refused. (Not the
    // last character: its low bits are base64url padding, which decoders ignore.)
    const at = token.length - 10;
    const tampered = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    await expect(tokens.verifyAccess(tampered)).rejects.toMatchObject({ message: 'invalid access token' });
    // One signed with another key never verifies, cached or not.
    const foreign = await new Tokens('other-secret-other-secret-other-secr', 60).signAccess(claims);
    await expect(tokens.verifyAccess(foreign)).rejects.toMatchObject({ message: 'invalid access token' });
    // Past exp (1 s TTL, checked by the second): refused although it verified before.
    await new Promise((r) => setTimeout(r, 2_100));
    await expect(tokens.verifyAccess(token)).rejects.toMatchObject({ message: 'access token expired' });
    await expect(tokens.verifyAccess(token)).rejects.toMatchObject({ message: 'access token expired' });
  });
});
