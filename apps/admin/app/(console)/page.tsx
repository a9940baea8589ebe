import { DashboardView } from '@/components/dashboard-view';
import { Failure } from '@/components/failure';
import { withApi } from '@/lib/session';

export default async function DashboardPage() {
  const r = await withApi((api) => api.dashboard.query());
  return (
    <>
      <h1>Dashboard</h1>
      {r.ok ? <DashboardView initial={r.value} /> : <Failure failure={r.failure} />}
    </>
  );
}
