import { Navigate, Route, Routes } from 'react-router-dom'
import { Shell } from './components/Shell'
import { Empty } from './components/states'
import { LoginPage } from './pages/Login'
import { PipelineDetailPage } from './pages/PipelineDetail'
import { PipelinesPage } from './pages/Pipelines'
import { SettingsPage } from './pages/Settings'
import { WorkersPage } from './pages/Workers'

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<Shell />}>
        <Route index element={<Navigate to="/pipelines" replace />} />
        <Route path="/pipelines" element={<PipelinesPage />} />
        <Route path="/pipelines/:id" element={<PipelineDetailPage />} />
        <Route path="/workers" element={<WorkersPage />} />
        <Route path="/settings" element={<SettingsPage />} />
        <Route path="*" element={<Empty>This page does not exist.</Empty>} />
      </Route>
    </Routes>
  )
}
