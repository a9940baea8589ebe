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
  // Standard output is written asynchronously: lines that arrive while a write is under way go
  // out together in the next one, instead of one blocking write(2) per line on the event loop (one
  // per request under load; a syscall is dear on small machines). pino flushes what is left
  // synchronously when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
