import * as Dialog from '@radix-ui/react-dialog'
import { useState, type ReactNode } from 'react'

export interface ConfirmRequest {
  title: string
  description: ReactNode
  confirmLabel: string
  danger?: boolean
  onConfirm: () => Promise<unknown>
}

/** Runs `request.onConfirm` once; `busy` until it settles, then `done()`. */
function useConfirmRun(request: ConfirmRequest | null, done: () => void) {
  const [busy, setBusy] = useState(false)
  const run = async () => {
    if (!request) return
    setBusy(true)
    try {
      await request.onConfirm()
    } finally {
      setBusy(false)
      done()
    }
  }
  return { busy, run }
}

/** The dialog itself (inside a `Dialog.Root`): title, description, keep / confirm. */
function ConfirmContent({ request, busy, run }: { request: ConfirmRequest | null; busy: boolean; run: () => Promise<void> }) {
  return (
    <Dialog.Portal>
      <Dialog.Overlay className="fixed inset-0 z-[60] bg-black/40" />
      <Dialog.Content
        data-testid="confirm-dialog"
        className="fixed left-1/2 top-1/2 z-[60] w-[28rem] max-w-[95vw] -translate-x-1/2 -translate-y-1/2 rounded-lg bg-white p-5 shadow-xl dark:bg-slate-900"
      >
        <Dialog.Title className="text-base font-semibold">{request?.title}</Dialog.Title>
        <Dialog.Description className="mt-2 text-sm text-slate-600 dark:text-slate-300">
          {request?.description}
        </Dialog.Description>
        <div className="mt-5 flex justify-end gap-2">
          <Dialog.Close asChild>
            <button disabled={busy} className="btn">
              Keep as is
            </button>
          </Dialog.Close>
          <button
            disabled={busy}
            onClick={() => void run()}
            className={request?.danger ? 'btn btn-danger' : 'btn btn-primary'}
          >
            {busy ? 'Working…' : request?.confirmLabel}
          </button>
        </div>
      </Dialog.Content>
    </Dialog.Portal>
  )
}

/** A button that asks first; the dialog stays open (busy) until the action settles. */
export function ConfirmButton({ trigger, ...request }: ConfirmRequest & { trigger: ReactNode }) {
  const [open, setOpen] = useState(false)
  const { busy, run } = useConfirmRun(request, () => setOpen(false))
  return (
    <Dialog.Root open={open} onOpenChange={(o) => !busy && setOpen(o)}>
      <Dialog.Trigger asChild>{trigger}</Dialog.Trigger>
      <ConfirmContent request={request} busy={busy} run={run} />
    </Dialog.Root>
  )
}

/** A controlled confirmation (for actions started from a menu); stays busy until it settles. */
export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose: () => void }) {
  const { busy, run } = useConfirmRun(request, onClose)
  return (
    <Dialog.Root open={request !== null} onOpenChange={(o) => !o && !busy && onClose()}>
      <ConfirmContent request={request} busy={busy} run={run} />
    </Dialog.Root>
  )
}
