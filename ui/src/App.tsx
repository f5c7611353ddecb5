import { Navigate, Route, Routes } from 'react-router-dom'
import { Shell } from './components/Shell'
import { Empty } from './components/states'
import { DashboardPage } from './pages/Dashboard'
import { LoginPage } from './pages/Login'
import { ObservabilityPage } from './pages/Observability'
import { PipelineDetailPage } from './pages/PipelineDetail'
import { PipelinesPage } from './pages/Pipelines'
import { PoliciesPage } from './pages/Policies'
import { SettingsPage } from './pages/Settings'
import { WorkerDetailPage } from './pages/WorkerDetail'
import { WorkersPage } from './pages/Workers'

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<Shell />}>
        <Route index element={<Navigate to="/dashboard" replace />} />
        <Route path="/dashboard" element={<DashboardPage />} />
        <Route path="/pipelines" element={<PipelinesPage />} />
        <Route path="/pipelines/:id" element={<PipelineDetailPage />} />
        <Route path="/workers" element={<WorkersPage />} />
        <Route path="/workers/:id" element={<WorkerDetailPage />} />
        <Route path="/observability" element={<ObservabilityPage />} />
        <Route path="/policies" element={<PoliciesPage />} />
        <Route path="/settings" element={<SettingsPage />} />
        <Route path="*" element={<Empty>This page does not exist.</Empty>} />
      </Route>
    </Routes>
  )
}
