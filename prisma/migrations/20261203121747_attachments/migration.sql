-- The attachments table of the init migration was never written to: it is replaced (dropped and
-- created again, so its column order matches schema.prisma), no data moves.

-- DropTable
DROP TABLE "attachments";

-- DropEnum
DROP TYPE "attachment_status";

-- CreateEnum
CREATE TYPE "attachment_state" AS ENUM ('pending', 'complete', 'deleted');

-- CreateTable
CREATE TABLE "attachments" (
    "id" VARCHAR(64) NOT NULL,
    "uploader_id" UUID NOT NULL,
    "size" BIGINT NOT NULL,
    "content_type" VARCHAR(255) NOT NULL,
    "state" "attachment_state" NOT NULL DEFAULT 'pending',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "attachments_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "attachments_uploader_id_created_at_idx" ON "attachments"("uploader_id", "created_at");

-- CreateIndex
CREATE INDEX "attachments_state_expires_at_idx" ON "attachments"("state", "expires_at");

-- AddForeignKey
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_uploader_id_fkey" FOREIGN KEY ("uploader_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
