-- The attachments table of the init migration was never written to: its columns are replaced, no data moves.
-- CreateEnum
CREATE TYPE "attachment_state" AS ENUM ('pending', 'complete', 'deleted');

-- DropForeignKey
ALTER TABLE "attachments" DROP CONSTRAINT "attachments_owner_id_fkey";

-- DropIndex
DROP INDEX "attachments_owner_id_idx";

-- AlterTable
ALTER TABLE "attachments" DROP COLUMN "object_key",
DROP COLUMN "owner_id",
DROP COLUMN "status",
ADD COLUMN     "completed_at" TIMESTAMPTZ(3),
ADD COLUMN     "state" "attachment_state" NOT NULL DEFAULT 'pending',
ADD COLUMN     "uploader_id" UUID NOT NULL;

-- DropEnum
DROP TYPE "attachment_status";

-- CreateIndex
CREATE INDEX "attachments_uploader_id_created_at_idx" ON "attachments"("uploader_id", "created_at");

-- CreateIndex
CREATE INDEX "attachments_state_expires_at_idx" ON "attachments"("state", "expires_at");

-- AddForeignKey
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_uploader_id_fkey" FOREIGN KEY ("uploader_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
