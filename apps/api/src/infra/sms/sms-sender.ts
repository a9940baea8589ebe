export interface OtpMessage {
  phone: string;
  code: string;
  purpose: 'register';
}

/** Hands a one-time code to whoever delivers SMS: a webhook (gateway, tests) or the log. */
export interface SmsSender {
  readonly backend: 'webhook' | 'console';
  send(msg: OtpMessage): Promise<void>;
}
