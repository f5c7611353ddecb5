import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { api, errorMessage } from '../../lib/api'
import { ConfirmButton } from '../confirm'
import { Card, QueryView } from '../dashboard/QueryView'
import { Empty } from '../states'
import { useToast } from '../toast'
import {
  actionRequest,
  actionSummary,
  dlqKeys,
  listPath,
  peekPath,
  PEEK_LIMIT,
  type ActionResult,
  type DeadLetter,
  type DeadLetterAction,
  type DeadLetterList,
  type DeadLetterQueue,
} from './deadLetters'

/** Dead-letter queues (RabbitMQ mode, Admin): depth, a peek that leaves messages in place,
 * and re-send / discard with confirmation. */
export function DeadLetters({ isAdmin }: { isAdmin: boolean }) {
  const list = useQuery({
    queryKey: dlqKeys.all,
    queryFn: ({ signal }) => api<DeadLetterList>(listPath(), { signal }),
    enabled: isAdmin,
    refetchInterval: 15_000,
  })
  const [peeked, setPeeked] = useState<string | null>(null)
  if (!isAdmin) return <Empty>Only an Admin can see dead letters.</Empty>
  return (
    <QueryView query={list} loading="Loading dead letters…">
      {(doc) => (
        <div className="space-y-4" data-testid="dead-letters">
          <Card title="Dead letters" testId="dead-letter-queues">
            {!doc.enabled && (
              <p className="mb-3 text-sm text-slate-600 dark:text-slate-400" data-testid="dlq-off">
                Dead-lettering is off (set RABBIT_DLQ_ENABLED in RabbitMQ mode): poison messages are logged and dropped.
              </p>
            )}
            {doc.queues.length === 0 ? (
              <Empty>No dead-letter queues.</Empty>
            ) : (
              <table className="w-full text-left text-sm">
                <thead className="text-xs uppercase text-slate-500">
                  <tr>
                    <th className="py-1">Queue</th>
                    <th className="py-1">Source</th>
                    <th className="py-1 text-right">Messages</th>
                    <th className="py-1" />
                  </tr>
                </thead>
                <tbody>
                  {doc.queues.map((q) => (
                    <QueueRow key={q.queue} q={q} onPeek={() => setPeeked(q.queue)} />
                  ))}
                </tbody>
              </table>
            )}
          </Card>
          {peeked && <Peek queue={peeked} onClose={() => setPeeked(null)} />}
        </div>
      )}
    </QueryView>
  )
}

function QueueRow({ q, onPeek }: { q: DeadLetterQueue; onPeek: () => void }) {
  const client = useQueryClient()
  const toast = useToast()
  const run = async (action: DeadLetterAction) => {
    const { path, options } = actionRequest(action, q.queue)
    try {
      const result = await api<ActionResult>(path, options)
      toast({ title: actionSummary(action, result), variant: 'success' })
    } catch (err) {
      toast({ title: `Could not ${action} ${q.queue}`, description: errorMessage(err), variant: 'error' })
    } finally {
      await client.invalidateQueries({ queryKey: dlqKeys.all })
    }
  }
  const empty = q.messages === 0
  return (
    <tr className="border-t border-slate-200 dark:border-slate-800" data-testid="dlq-row" data-queue={q.queue}>
      <td className="py-2 font-mono text-xs">{q.queue}</td>
      <td className="py-2 font-mono text-xs">{q.source}</td>
      <td className="py-2 text-right tabular-nums">{q.messages}</td>
      <td className="py-2">
        <div className="flex justify-end gap-2">
          <button className="btn btn-sm" disabled={empty} onClick={onPeek}>
            Peek
          </button>
          <ConfirmButton
            title="Re-send dead letters?"
            description={`Move every message of ${q.queue} back to ${q.source}. A message that fails again comes back here.`}
            confirmLabel="Re-send"
            onConfirm={() => run('resend')}
            trigger={
              <button className="btn btn-sm btn-primary" disabled={empty}>
                Resend
              </button>
            }
          />
          <ConfirmButton
            title="Discard dead letters?"
            description={`Drop every message of ${q.queue}. This cannot be undone.`}
            confirmLabel="Discard"
            danger
            onConfirm={() => run('discard')}
            trigger={
              <button className="btn btn-sm btn-danger" disabled={empty}>
                Discard
              </button>
            }
          />
        </div>
      </td>
    </tr>
  )
}

function Peek({ queue, onClose }: { queue: string; onClose: () => void }) {
  const messages = useQuery({
    queryKey: dlqKeys.messages(queue, PEEK_LIMIT),
    queryFn: ({ signal }) => api<{ messages: DeadLetter[] }>(peekPath(queue), { signal }).then((r) => r.messages),
  })
  return (
    <Card
      title={`First messages of ${queue}`}
      testId="dlq-peek"
      aside={
        <button className="btn btn-sm" onClick={onClose}>
          Close
        </button>
      }
    >
      <QueryView query={messages} loading="Reading…" empty="The queue is empty." isEmpty={(m) => m.length === 0}>
        {(list) => (
          <ul className="space-y-3">
            {list.map((m, i) => (
              <li key={`${m.messageId ?? ''}-${i}`} className="rounded border border-slate-200 p-2 text-xs dark:border-slate-800">
                <div className="mb-1 flex flex-wrap gap-3 text-slate-500">
                  <span>id: {m.messageId ?? '—'}</span>
                  <span>reason: {m.reason ?? '—'}</span>
                  {m.deadFrom && <span>from: {m.deadFrom}</span>}
                  {m.deathCount !== null && <span>deaths: {m.deathCount}</span>}
                  <span>{m.size} bytes</span>
                </div>
                <pre className="max-h-48 overflow-auto whitespace-pre-wrap break-all font-mono">
                  {m.body}
                  {m.truncated && '…'}
                </pre>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </Card>
  )
}
