-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "prekey_kind" AS ENUM ('ec', 'kyber', 'kyber_last_resort');

-- CreateEnum
CREATE TYPE "message_type" AS ENUM ('prekey', 'message', 'receipt');

-- CreateEnum
CREATE TYPE "message_status" AS ENUM ('sent', 'delivered', 'read');

-- CreateEnum
CREATE TYPE "call_media" AS ENUM ('audio', 'video');

-- CreateEnum
CREATE TYPE "call_state" AS ENUM ('ringing', 'connected', 'ended');

-- CreateEnum
CREATE TYPE "attachment_status" AS ENUM ('pending', 'uploaded');

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "username" VARCHAR(32) NOT NULL,
    "username_lower" VARCHAR(32) NOT NULL,
    "phone" VARCHAR(16) NOT NULL,
    "password_hash" TEXT NOT NULL,
    "verified" BOOLEAN NOT NULL DEFAULT false,
    "banned" BOOLEAN NOT NULL DEFAULT false,
    "banned_at" TIMESTAMPTZ(3),
    "identity_key_public" BYTEA,
    "identity_key_version" INTEGER NOT NULL DEFAULT 0,
    "next_device_id" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "devices" (
    "user_id" UUID NOT NULL,
    "device_id" INTEGER NOT NULL,
    "name" VARCHAR(64),
    "registration_id" INTEGER,
    "token_version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "devices_pkey" PRIMARY KEY ("user_id","device_id")
);

-- CreateTable
CREATE TABLE "signed_prekeys" (
    "user_id" UUID NOT NULL,
    "device_id" INTEGER NOT NULL,
    "signed_prekey_id" INTEGER NOT NULL,
    "signed_prekey_public" BYTEA NOT NULL,
    "signed_prekey_signature" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "signed_prekeys_pkey" PRIMARY KEY ("user_id","device_id")
);

-- CreateTable
CREATE TABLE "prekeys" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "device_id" INTEGER NOT NULL,
    "kind" "prekey_kind" NOT NULL,
    "prekey_id" INTEGER NOT NULL,
    "public_key" BYTEA NOT NULL,
    "signature" BYTEA,
    "is_used" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "prekeys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "message_sends" (
    "id" UUID NOT NULL,
    "sender_id" UUID NOT NULL,
    "client_message_id" UUID NOT NULL,
    "reply" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "message_sends_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "messages" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "sender_id" UUID NOT NULL,
    "sender_device_id" INTEGER NOT NULL,
    "recipient_id" UUID NOT NULL,
    "recipient_device_id" INTEGER NOT NULL,
    "type" "message_type" NOT NULL,
    "encrypted_content" BYTEA,
    "iv" BYTEA,
    "message_number" INTEGER,
    "client_message_id" UUID,
    "status" "message_status" NOT NULL DEFAULT 'sent',
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMPTZ(3),
    "read_at" TIMESTAMPTZ(3),

    CONSTRAINT "messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "refresh_tokens" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "device_id" INTEGER NOT NULL,
    "token_hash" BYTEA NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "calls" (
    "id" UUID NOT NULL,
    "caller_id" UUID NOT NULL,
    "caller_device_id" INTEGER NOT NULL,
    "callee_id" UUID NOT NULL,
    "callee_device_id" INTEGER,
    "media" "call_media" NOT NULL,
    "state" "call_state" NOT NULL DEFAULT 'ringing',
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "answered_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),
    "end_reason" VARCHAR(32),

    CONSTRAINT "calls_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attachments" (
    "id" VARCHAR(64) NOT NULL,
    "owner_id" UUID NOT NULL,
    "size" BIGINT NOT NULL,
    "content_type" VARCHAR(255) NOT NULL,
    "object_key" TEXT NOT NULL,
    "status" "attachment_status" NOT NULL DEFAULT 'pending',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "attachments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "admins" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" VARCHAR(32) NOT NULL DEFAULT 'admin',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "admins_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor_type" VARCHAR(16) NOT NULL,
    "actor_id" TEXT,
    "action" VARCHAR(64) NOT NULL,
    "target_type" VARCHAR(32),
    "target_id" TEXT,
    "details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_username_lower_key" ON "users"("username_lower");

-- CreateIndex
CREATE UNIQUE INDEX "users_phone_key" ON "users"("phone");

-- CreateIndex
CREATE INDEX "prekeys_user_id_device_id_kind_is_used_idx" ON "prekeys"("user_id", "device_id", "kind", "is_used");

-- CreateIndex
CREATE UNIQUE INDEX "prekeys_user_id_device_id_kind_prekey_id_key" ON "prekeys"("user_id", "device_id", "kind", "prekey_id");

-- CreateIndex
CREATE INDEX "message_sends_created_at_idx" ON "message_sends"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "message_sends_sender_id_client_message_id_key" ON "message_sends"("sender_id", "client_message_id");

-- CreateIndex
CREATE UNIQUE INDEX "messages_seq_key" ON "messages"("seq");

-- CreateIndex
CREATE INDEX "idx_recipient_timestamp" ON "messages"("recipient_id", "timestamp");

-- CreateIndex
CREATE INDEX "messages_recipient_id_recipient_device_id_status_seq_idx" ON "messages"("recipient_id", "recipient_device_id", "status", "seq");

-- CreateIndex
CREATE INDEX "messages_sender_id_recipient_id_seq_idx" ON "messages"("sender_id", "recipient_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_token_hash_key" ON "refresh_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "refresh_tokens_user_id_device_id_idx" ON "refresh_tokens"("user_id", "device_id");

-- CreateIndex
CREATE INDEX "calls_caller_id_started_at_idx" ON "calls"("caller_id", "started_at");

-- CreateIndex
CREATE INDEX "calls_callee_id_started_at_idx" ON "calls"("callee_id", "started_at");

-- CreateIndex
CREATE INDEX "attachments_owner_id_idx" ON "attachments"("owner_id");

-- CreateIndex
CREATE UNIQUE INDEX "admins_email_key" ON "admins"("email");

-- CreateIndex
CREATE INDEX "audit_log_created_at_idx" ON "audit_log"("created_at");

-- AddForeignKey
ALTER TABLE "devices" ADD CONSTRAINT "devices_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "signed_prekeys" ADD CONSTRAINT "signed_prekeys_user_id_device_id_fkey" FOREIGN KEY ("user_id", "device_id") REFERENCES "devices"("user_id", "device_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "prekeys" ADD CONSTRAINT "prekeys_user_id_device_id_fkey" FOREIGN KEY ("user_id", "device_id") REFERENCES "devices"("user_id", "device_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
