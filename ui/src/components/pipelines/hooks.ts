import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useState } from 'react'
import { api, buildQuery, errorMessage } from '../../lib/api'
import { filtersToApi, type PipelineFilters } from '../../lib/filters'
import { applyPipeline } from '../../lib/live'
import { keys } from '../../lib/queries'
import type { Page, Pipeline } from '../../lib/types'
import { useToast } from '../toast'
import { bulkOutcome, outcomeToast, type BulkItemResult, type BulkOutcome, type BulkPlan } from './bulk'

/** `Date.now()`, renewed every `ms` while `active` (open durations tick, sliding windows move). */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!active) return
    setNow(Date.now())
    const t = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(t)
  }, [active, ms])
  return now
}

/**
 * One page of pipelines. The key is the API query itself (under `keys.pipelineLists`), so
 * `/ws` frames patch its rows in place, and a sliding window's new bounds are a new key whose
 * previous page stays on screen until the new one arrives.
 */
export function usePipelineList(filters: PipelineFilters, now: number) {
  const query = filtersToApi(filters, now)
  return useQuery({
    queryKey: [...keys.pipelineLists, query] as const,
    queryFn: ({ signal }) => api<Page<Pipeline>>(`/api/pipelines${buildQuery(query)}`, { signal }),
    placeholderData: keepPreviousData,
    // a sliding window leaves a page behind at every step: don't keep (and patch) them long
    gcTime: 30_000,
  })
}

export type PipelineAction = 'rerunStage' | 'skipStage' | 'cancel' | 'retryNow'

/**
 * An operator action on one pipeline or stage: the answer (the pipeline as it is now) goes
 * into the cache at once, so every open view shows the result before the socket's frame.
 */
export function usePipelineAction() {
  const client = useQueryClient()
  const toast = useToast()
  return useCallback(
    async (path: PipelineAction, body: Record<string, unknown>, done: string) => {
      try {
        const result = await api<Pipeline>(`/api/pipelines/${path}`, { method: 'POST', body })
        applyPipeline(client, result)
        // the answer has no logs: read the detail again for the action's log line
        void client.invalidateQueries({ queryKey: keys.pipeline(result.id), exact: true })
        toast({ title: done })
      } catch (err) {
        toast({ title: 'Action failed', description: errorMessage(err), variant: 'error' })
      }
    },
    [client, toast],
  )
}

/** Run a bulk plan on its route, toast the per-item answer, refresh what is on screen. */
export function useBulkAction() {
  const client = useQueryClient()
  const toast = useToast()
  return useCallback(
    async (plan: BulkPlan): Promise<BulkOutcome | null> => {
      const [path, field] = plan.kind === 'cancel' ? ['cancel', 'pipelineIds'] : ['rerunStage', 'stageIds']
      const body: Record<string, unknown> = { [field]: plan.targets.map((t) => t.id) }
      if (plan.kind === 'rerunFailed') body.rerunAllNextStages = false
      try {
        const answer = await api<{ results: BulkItemResult[] }>(`/api/pipelines/${path}`, { method: 'POST', body })
        const outcome = bulkOutcome(plan, answer.results)
        toast(outcomeToast(plan.kind, outcome))
        void client.invalidateQueries({ queryKey: keys.pipelines, refetchType: 'active' })
        return outcome
      } catch (err) {
        toast({ title: 'Bulk action failed', description: errorMessage(err), variant: 'error' })
        return null
      }
    },
    [client, toast],
  )
}
