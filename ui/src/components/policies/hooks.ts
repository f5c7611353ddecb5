// Queries and actions of the Policies page: the list (with its KPIs), one policy, its audit
// trail and insights, what can be targeted, the targeting preview, and the status actions.
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useState } from 'react'
import { useToast } from '../toast'
import { api, buildQuery, errorMessage } from '../../lib/api'
import type { Page } from '../../lib/types'
import {
  ACTION_DONE,
  POLICY_STATUSES,
  policyFiltersToApi,
  targetingBody,
  type AuditPage,
  type Insights,
  type Policy,
  type PolicyAction,
  type PolicyFilters,
  type PolicyStatus,
  type Preview,
  type Targeting,
  type Targets,
} from './model'

export const policyKeys = {
  all: ['policies'] as const,
  lists: ['policies', 'list'] as const,
  list: (f: PolicyFilters) => ['policies', 'list', policyFiltersToApi(f)] as const,
  kpis: ['policies', 'kpis'] as const,
  detail: (id: number) => ['policies', 'detail', id] as const,
  audit: (id: number, page: number) => ['policies', 'audit', id, page] as const,
  insights: (id: number, range: string) => ['policies', 'insights', id, range] as const,
  targets: (applicationId: number | null) => ['policies', 'targets', applicationId ?? 'all'] as const,
  preview: (body: unknown) => ['policies', 'preview', body] as const,
}

/** Trigger counts move as the engine applies policies: lists are re-read this often. */
const REFRESH_MS = 15_000

export function usePolicies(filters: PolicyFilters) {
  return useQuery({
    queryKey: policyKeys.list(filters),
    queryFn: ({ signal }) => api<Page<Policy>>(`/api/policies${buildQuery(policyFiltersToApi(filters))}`, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  })
}

export interface PolicyKpis {
  total: number
  byStatus: Record<PolicyStatus, number>
  /** triggers in the last 24 hours, summed over `covered` policies */
  triggers24h: number
  /** policies that triggered at least once in 24 h (of `covered`) */
  triggeredPolicies: number
  /** the policy with the most triggers in 24 h (none when nothing triggered) */
  top: Pick<Policy, 'id' | 'name' | 'triggers24h'> | null
  /** how many policies the trigger figures cover (the list is read up to 200) */
  covered: number
}

export const KPI_SAMPLE = 200

/** KPIs from one list page of up to 200 policies and one count per status. */
export function kpisFrom(all: Page<Policy>, counts: Record<PolicyStatus, number>): PolicyKpis {
  let triggers = 0
  let triggered = 0
  let top: PolicyKpis['top'] = null
  for (const p of all.items) {
    triggers += p.triggers24h
    if (p.triggers24h > 0) triggered += 1
    if (p.triggers24h > 0 && (top === null || p.triggers24h > top.triggers24h)) {
      top = { id: p.id, name: p.name, triggers24h: p.triggers24h }
    }
  }
  return {
    total: all.totalCount,
    byStatus: counts,
    triggers24h: triggers,
    triggeredPolicies: triggered,
    top,
    covered: all.items.length,
  }
}

export async function fetchPolicyKpis(signal?: AbortSignal): Promise<PolicyKpis> {
  const [all, ...perStatus] = await Promise.all([
    api<Page<Policy>>(`/api/policies${buildQuery({ pageSize: KPI_SAMPLE })}`, { signal }),
    ...POLICY_STATUSES.map((status) =>
      api<Page<Policy>>(`/api/policies${buildQuery({ status, pageSize: 1 })}`, { signal }),
    ),
  ])
  const counts = Object.fromEntries(POLICY_STATUSES.map((s, i) => [s, perStatus[i]?.totalCount ?? 0])) as Record<
    PolicyStatus,
    number
  >
  return kpisFrom(all!, counts)
}

export function usePolicyKpis() {
  return useQuery({
    queryKey: policyKeys.kpis,
    queryFn: ({ signal }) => fetchPolicyKpis(signal),
    refetchInterval: REFRESH_MS,
  })
}

export function usePolicy(id: number | null) {
  return useQuery({
    queryKey: policyKeys.detail(id ?? 0),
    queryFn: ({ signal }) => api<Policy>(`/api/policies/${id}`, { signal }),
    enabled: id !== null && id > 0,
  })
}

export const AUDIT_PAGE_SIZE = 20

export function usePolicyAudit(id: number, page: number) {
  return useQuery({
    queryKey: policyKeys.audit(id, page),
    queryFn: ({ signal }) =>
      api<AuditPage>(`/api/policies/${id}/audit${buildQuery({ pageNumber: page, pageSize: AUDIT_PAGE_SIZE })}`, { signal }),
    placeholderData: keepPreviousData,
  })
}

export function usePolicyInsights(id: number, range: string) {
  return useQuery({
    queryKey: policyKeys.insights(id, range),
    queryFn: ({ signal }) => api<Insights>(`/api/policies/${id}/insights${buildQuery({ range })}`, { signal }),
    refetchInterval: REFRESH_MS,
  })
}

export function usePolicyTargets(applicationId: number | null) {
  return useQuery({
    queryKey: policyKeys.targets(applicationId),
    queryFn: ({ signal }) =>
      api<Targets>(`/api/policies/targets${buildQuery({ applicationId: applicationId ?? undefined })}`, { signal }),
    staleTime: 30_000,
  })
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return settled
}

/** The request body of a preview: the targeting as it would be saved, in one application or all. */
export function previewBody(targeting: Targeting, applicationId: number | null): { targeting: Targeting; applicationId?: number } {
  const body: { targeting: Targeting; applicationId?: number } = { targeting: targetingBody(targeting) }
  if (applicationId !== null) body.applicationId = applicationId
  return body
}

/**
 * What a targeting matches among recent pipelines, asked again 400 ms after it stops changing
 * (the previous answer stays shown meanwhile).
 */
export function usePolicyPreview(targeting: Targeting, applicationId: number | null, enabled = true) {
  const key = JSON.stringify(previewBody(targeting, applicationId))
  const settled = useDebounced(key, 400)
  const preview = useQuery({
    queryKey: policyKeys.preview(settled),
    queryFn: ({ signal }) => api<Preview>('/api/policies/preview', { method: 'POST', body: JSON.parse(settled), signal }),
    placeholderData: keepPreviousData,
    enabled,
    staleTime: 5_000,
  })
  /** the answer shown is for the targeting as it is now (not an earlier one, kept meanwhile) */
  const current = key === settled && preview.isSuccess && !preview.isPlaceholderData
  return { preview, current }
}

const ACTION_PATH: Record<PolicyAction, (id: number) => { path: string; method: string }> = {
  enable: (id) => ({ path: `/api/policies/${id}/enable`, method: 'POST' }),
  disable: (id) => ({ path: `/api/policies/${id}/disable`, method: 'POST' }),
  pause: (id) => ({ path: `/api/policies/${id}/pause`, method: 'POST' }),
  resume: (id) => ({ path: `/api/policies/${id}/resume`, method: 'POST' }),
  duplicate: (id) => ({ path: `/api/policies/${id}/duplicate`, method: 'POST' }),
  delete: (id) => ({ path: `/api/policies/${id}`, method: 'DELETE' }),
}

export type ActionResult = { ok: true; policy: Policy | null } | { ok: false; error: unknown }

/**
 * Run a row/drawer action: toast its success or failure and refresh what shows policies.
 * Resolves with the changed (or, for duplicate, new) policy; `null` for delete.
 */
export function usePolicyActions() {
  const client = useQueryClient()
  const toast = useToast()
  return useCallback(
    async (action: PolicyAction, policy: Pick<Policy, 'id' | 'name'>): Promise<ActionResult> => {
      const { path, method } = ACTION_PATH[action](policy.id)
      try {
        const result = await api<Policy | undefined>(path, { method })
        if (action === 'duplicate' && result) {
          toast({ title: `Policy "${policy.name}" duplicated`, description: `Created "${result.name}" (disabled).` })
        } else {
          toast({ title: `Policy "${policy.name}" ${ACTION_DONE[action]}` })
        }
        if (result && action !== 'duplicate') client.setQueryData(policyKeys.detail(policy.id), result)
        if (action === 'delete') {
          // an open drawer would only read it again (a 404): it closes and the entry ages out
          const detail = client.getQueryCache().find({ queryKey: policyKeys.detail(policy.id), exact: true })
          if (detail && detail.getObserversCount() === 0) client.removeQueries({ queryKey: detail.queryKey, exact: true })
        }
        return { ok: true, policy: result ?? null }
      } catch (err) {
        toast({
          title: `Could not ${action} policy "${policy.name}"`,
          description: errorMessage(err),
          variant: 'error',
        })
        return { ok: false, error: err }
      } finally {
        await client.invalidateQueries({
          queryKey: policyKeys.all,
          predicate: (q) => !(action === 'delete' && q.queryKey[1] === 'detail' && q.queryKey[2] === policy.id),
        })
      }
    },
    [client, toast],
  )
}
