-- AlterTable
ALTER TABLE "calls" DROP COLUMN "callee_device_id",
ADD COLUMN     "answered_device_id" INTEGER,
ADD COLUMN     "declined_devices" INTEGER[] DEFAULT ARRAY[]::INTEGER[],
ADD COLUMN     "party_lost_at" TIMESTAMPTZ(3),
ADD COLUMN     "rejected" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "rung_devices" INTEGER[] DEFAULT ARRAY[]::INTEGER[];

-- CreateIndex
CREATE INDEX "calls_state_started_at_idx" ON "calls"("state", "started_at");
