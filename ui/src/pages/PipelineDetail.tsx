import { Link, useParams } from 'react-router-dom'
import { PipelineView } from '../components/pipelines/PipelineView'

/** A pipeline on its own page (the Pipelines table opens the same view as a side panel). */
export function PipelineDetailPage() {
  const { id } = useParams()
  return (
    <div className="space-y-2">
      <Link to="/pipelines" className="text-sm text-blue-600 hover:underline dark:text-blue-400">
        ‹ Pipelines
      </Link>
      <PipelineView pipelineId={Number(id)} />
    </div>
  )
}
