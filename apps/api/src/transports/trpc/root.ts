import { adminRouter } from './routers/admin.js';
import { attachmentsRouter } from './routers/attachments.js';
import { authRouter } from './routers/auth.js';
import { callsRouter } from './routers/calls.js';
import { keysRouter } from './routers/keys.js';
import { messagesRouter } from './routers/messages.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  keys: keysRouter,
  messages: messagesRouter,
  attachments: attachmentsRouter,
  calls: callsRouter,
  admin: adminRouter,
});

/** What TypeScript clients import (types only) to be typed end to end. */
export type AppRouter = typeof appRouter;
