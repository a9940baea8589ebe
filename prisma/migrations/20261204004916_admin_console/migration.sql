-- Admin console: roles, lockout, sessions, audit filters and per-node dashboard figures.

-- CreateEnum
CREATE TYPE "admin_role" AS ENUM ('viewer', 'operator', 'owner');

-- AlterTable
ALTER TABLE "admins" ADD COLUMN     "disabled" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "failed_logins" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "last_login_at" TIMESTAMPTZ(3),
ADD COLUMN     "locked_until" TIMESTAMPTZ(3);

-- The role column becomes the enum in place (no drop: existing rows keep their accounts). Before
-- roles existed every admin had every right, so the old free-text roles become owner.
ALTER TABLE "admins" ALTER COLUMN "role" DROP DEFAULT;
ALTER TABLE "admins" ALTER COLUMN "role" TYPE "admin_role" USING (
  CASE WHEN "role" IN ('viewer', 'operator', 'owner') THEN "role"::"admin_role" ELSE 'owner'::"admin_role" END
);
ALTER TABLE "admins" ALTER COLUMN "role" SET DEFAULT 'viewer';
-- Emails compare case-insensitively from now on (the service lowercases what it stores).
UPDATE "admins" SET "email" = lower("email") WHERE "email" <> lower("email");

-- CreateTable
CREATE TABLE "admin_sessions" (
    "id" UUID NOT NULL,
    "admin_id" UUID NOT NULL,
    "token_hash" BYTEA NOT NULL,
    "previous_token_hash" BYTEA,
    "rotated_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "admin_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "node_stats" (
    "node_id" VARCHAR(128) NOT NULL,
    "bucket_at" TIMESTAMPTZ(3) NOT NULL,
    "messages_sent" INTEGER NOT NULL DEFAULT 0,
    "message_sockets" INTEGER NOT NULL DEFAULT 0,
    "call_sockets" INTEGER NOT NULL DEFAULT 0,
    "latency_buckets" INTEGER[] DEFAULT ARRAY[]::INTEGER[],
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "node_stats_pkey" PRIMARY KEY ("node_id","bucket_at")
);

-- CreateIndex
CREATE UNIQUE INDEX "admin_sessions_token_hash_key" ON "admin_sessions"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "admin_sessions_previous_token_hash_key" ON "admin_sessions"("previous_token_hash");

-- CreateIndex
CREATE INDEX "admin_sessions_admin_id_idx" ON "admin_sessions"("admin_id");

-- CreateIndex
CREATE INDEX "node_stats_bucket_at_idx" ON "node_stats"("bucket_at");

-- CreateIndex
CREATE INDEX "audit_log_action_id_idx" ON "audit_log"("action", "id");

-- CreateIndex
CREATE INDEX "audit_log_target_id_id_idx" ON "audit_log"("target_id", "id");

-- AddForeignKey
ALTER TABLE "admin_sessions" ADD CONSTRAINT "admin_sessions_admin_id_fkey" FOREIGN KEY ("admin_id") REFERENCES "admins"("id") ON DELETE CASCADE ON UPDATE CASCADE;
