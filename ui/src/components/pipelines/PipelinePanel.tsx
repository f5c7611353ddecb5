import * as Dialog from '@radix-ui/react-dialog'
import { Link } from 'react-router-dom'
import { PipelineView } from './PipelineView'

/** The pipeline detail as a side panel over the table (the URL holds `?pipeline=<id>`). */
export function PipelinePanel({ pipelineId, onClose }: { pipelineId: number | null; onClose: () => void }) {
  return (
    <Dialog.Root open={pipelineId !== null} onOpenChange={(o) => !o && onClose()}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-black/30" />
        <Dialog.Content
          data-testid="pipeline-panel"
          aria-describedby={undefined}
          className="fixed inset-y-0 right-0 z-40 flex w-[52rem] max-w-[100vw] flex-col border-l border-slate-200 bg-slate-50 shadow-2xl outline-none dark:border-slate-800 dark:bg-slate-950"
        >
          {pipelineId !== null && (
            <div className="flex-1 overflow-y-auto p-5">
              <PipelineView
                key={pipelineId}
                pipelineId={pipelineId}
                compact
                renderTitle={(text) => <Dialog.Title className="text-lg font-semibold">{text}</Dialog.Title>}
                aside={
                  <>
                    <Link to={`/pipelines/${pipelineId}`} className="btn btn-sm" data-testid="open-page">
                      Open as page
                    </Link>
                    <Dialog.Close asChild>
                      <button className="btn btn-sm" aria-label="Close">
                        ✕
                      </button>
                    </Dialog.Close>
                  </>
                }
              />
            </div>
          )}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  )
}
