import * as Tooltip from '@radix-ui/react-tooltip'
import { badgeClass, solidClass, statusLabel } from '../lib/status'
import type { Stage } from '../lib/types'

export function StatusBadge({ status }: { status: string }) {
  return (
    <span
      data-testid="status-badge"
      data-status={status}
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${badgeClass(status)}`}
    >
      {statusLabel(status)}
    </span>
  )
}

export function Tip({ content, children }: { content: React.ReactNode; children: React.ReactNode }) {
  return (
    <Tooltip.Root delayDuration={150}>
      <Tooltip.Trigger asChild>{children}</Tooltip.Trigger>
      <Tooltip.Portal>
        <Tooltip.Content
          sideOffset={4}
          className="z-50 rounded bg-slate-900 px-2 py-1 text-xs text-white shadow dark:bg-slate-100 dark:text-slate-900"
        >
          {content}
          <Tooltip.Arrow className="fill-slate-900 dark:fill-slate-100" />
        </Tooltip.Content>
      </Tooltip.Portal>
    </Tooltip.Root>
  )
}

/** One small chip per stage, in order; the tooltip names the stage and its status. */
export function StageChips({ stages }: { stages: Stage[] }) {
  return (
    <div className="flex items-center gap-1" data-testid="stage-chips">
      {stages.map((s) => (
        <Tip
          key={s.id}
          content={
            <span>
              {s.name}: {statusLabel(s.status)}
              {s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}
            </span>
          }
        >
          <span
            tabIndex={0}
            aria-label={`${s.name}: ${statusLabel(s.status)}`}
            data-status={s.status}
            className={`inline-block h-3 w-5 rounded-sm ${solidClass(s.status)}`}
          />
        </Tip>
      ))}
    </div>
  )
}
