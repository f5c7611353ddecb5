import * as Menu from '@radix-ui/react-dropdown-menu'
import { useState } from 'react'
import { ConfirmDialog, type ConfirmRequest } from '../confirm'
import { usePolicyActions, type ActionResult } from './hooks'
import { ACTION_LABELS, canChange, statusActions, type Policy, type PolicyAction } from './model'

type Done = (action: PolicyAction, result: ActionResult, policy: Policy) => void

/** Starts an action on a policy, asking first for delete and disable; renders that question. */
export function useActionRunner(onDone?: Done) {
  const run = usePolicyActions()
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null)
  const [busy, setBusy] = useState<PolicyAction | null>(null)

  const start = (action: PolicyAction, policy: Policy) => {
    const go = async () => {
      setBusy(action)
      try {
        const result = await run(action, policy)
        onDone?.(action, result, policy)
      } finally {
        setBusy(null)
      }
    }
    if (action === 'delete') {
      setConfirm({
        title: `Delete policy "${policy.name}"?`,
        description: 'It stops applying at once and leaves the list. Its audit trail is kept.',
        confirmLabel: 'Delete policy',
        danger: true,
        onConfirm: go,
      })
    } else if (action === 'disable') {
      setConfirm({
        title: `Disable policy "${policy.name}"?`,
        description: 'It stops applying to pipelines until it is enabled again.',
        confirmLabel: 'Disable policy',
        danger: true,
        onConfirm: go,
      })
    } else {
      void go()
    }
  }
  return { start, busy, dialog: <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} /> }
}

const ITEM =
  'cursor-pointer rounded px-2 py-1.5 text-sm outline-none data-[disabled]:cursor-not-allowed data-[disabled]:opacity-50 data-[highlighted]:bg-slate-100 dark:data-[highlighted]:bg-slate-800'

/** The "Actions" menu of a list row. */
export function RowActions({
  policy,
  isAdmin,
  onOpen,
  onEdit,
  onDone,
}: {
  policy: Policy
  isAdmin: boolean
  onOpen: () => void
  onEdit: () => void
  onDone?: Done
}) {
  const { start, busy, dialog } = useActionRunner(onDone)
  const writable = canChange(policy, isAdmin)
  return (
    <>
      <Menu.Root>
        <Menu.Trigger asChild>
          <button className="btn btn-sm whitespace-nowrap" aria-label={`Actions for ${policy.name}`} data-testid="policy-actions" disabled={busy !== null}>
            {busy ? 'Working…' : 'Actions ▾'}
          </button>
        </Menu.Trigger>
        <Menu.Portal>
          <Menu.Content
            align="end"
            sideOffset={4}
            className="z-50 min-w-40 rounded-md border border-slate-200 bg-white p-1 shadow-lg dark:border-slate-700 dark:bg-slate-900"
          >
            <Menu.Item className={ITEM} onSelect={onOpen}>
              Details
            </Menu.Item>
            {writable && (
              <>
                <Menu.Item className={ITEM} onSelect={onEdit}>
                  Edit
                </Menu.Item>
                <Menu.Separator className="my-1 h-px bg-slate-200 dark:bg-slate-700" />
                {statusActions(policy.status).map((a) => (
                  <Menu.Item key={a} className={ITEM} onSelect={() => start(a, policy)}>
                    {ACTION_LABELS[a]}
                  </Menu.Item>
                ))}
                <Menu.Item className={ITEM} onSelect={() => start('duplicate', policy)}>
                  Duplicate
                </Menu.Item>
                <Menu.Separator className="my-1 h-px bg-slate-200 dark:bg-slate-700" />
                <Menu.Item className={`${ITEM} text-red-700 dark:text-red-400`} onSelect={() => start('delete', policy)}>
                  Delete
                </Menu.Item>
              </>
            )}
            {!writable && <div className="px-2 py-1.5 text-xs text-slate-500">Global policy: only an Admin changes it</div>}
          </Menu.Content>
        </Menu.Portal>
      </Menu.Root>
      {dialog}
    </>
  )
}
