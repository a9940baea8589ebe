import pino, { type DestinationStream, type Logger } from 'pino';

/** Query parameters that carry credentials; their values never reach a log line. */
const SECRET_PARAMS =
  /([?&](?:token|access_token|refresh_token|code|signature|X-Amz-Signature|X-Amz-Credential)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[REDACTED]');
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.password',
        '*.refreshToken',
        '*.accessToken',
        '*.code',
      ],
      censor: '[REDACTED]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
