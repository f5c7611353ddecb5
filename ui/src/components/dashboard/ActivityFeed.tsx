import { useEffect, useReducer, useState } from 'react'
import { Link } from 'react-router-dom'
import { onFrame } from '../../lib/live'
import type { Pipeline } from '../../lib/types'
import { StatusBadge } from '../status'
import { EMPTY_ACTIVITY, isNotable, pushFrame, type ActivityState } from './activity'
import { Card, Segmented } from './QueryView'

type Action = { type: 'frame'; pipeline: Pipeline; at: number } | { type: 'clear' }

function reduce(state: ActivityState, action: Action): ActivityState {
  if (action.type === 'clear') return { ...state, items: [] }
  return pushFrame(state, action.pipeline, action.at)
}

type Scope = 'all' | 'notable'
const SCOPES = [
  { value: 'all' as const, label: 'All changes' },
  { value: 'notable' as const, label: 'Notable' },
]

const clock = (ms: number) =>
  new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })

/** What `/ws` reports while the page is open, newest first. */
export function ActivityFeed() {
  const [state, dispatch] = useReducer(reduce, EMPTY_ACTIVITY)
  const [scope, setScope] = useState<Scope>('all')
  useEffect(() => onFrame((f) => dispatch({ type: 'frame', pipeline: f.pipeline, at: Date.now() })), [])
  const items = scope === 'all' ? state.items : state.items.filter(isNotable)

  return (
    <Card
      title="Live activity"
      testId="activity-feed"
      aside={
        <>
          <Segmented label="Which changes" value={scope} options={SCOPES} onChange={setScope} />
          <button className="btn btn-sm" onClick={() => dispatch({ type: 'clear' })} disabled={state.items.length === 0}>
            Clear
          </button>
        </>
      }
    >
      {items.length === 0 ? (
        <div data-testid="activity-empty" className="py-8 text-center text-sm text-slate-500">
          Waiting for activity. Pipeline changes appear here as they happen.
        </div>
      ) : (
        <ol className="max-h-96 divide-y divide-slate-100 overflow-y-auto text-sm dark:divide-slate-800" aria-live="polite">
          {items.map((item) => (
            <li key={item.key} data-testid="activity-item" data-status={item.status} data-scope={item.scope} className="flex items-center gap-3 py-1.5">
              <time className="w-20 shrink-0 text-xs tabular-nums text-slate-500" dateTime={new Date(item.at).toISOString()}>
                {clock(item.at)}
              </time>
              <span className="w-28 shrink-0">
                <StatusBadge status={item.status} />
              </span>
              <Link to={`/pipelines/${item.pipelineId}`} className="shrink-0 text-blue-600 hover:underline dark:text-blue-400">
                #{item.pipelineId}
              </Link>
              <span className="min-w-0 truncate">
                <span className="font-medium">{item.pipelineName}</span>
                <span className="text-slate-500"> — {item.text}</span>
              </span>
            </li>
          ))}
        </ol>
      )}
    </Card>
  )
}
