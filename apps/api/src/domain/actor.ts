/** The authenticated caller: every service method that acts for a device takes this first. */
export interface Actor {
  userId: string;
  deviceId: number;
}

/** Where a request came from, for per-IP limits. */
export interface Origin {
  ip: string;
}
