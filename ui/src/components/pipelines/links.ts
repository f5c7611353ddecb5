// Deep links of one pipeline, from the link templates of the Observability config (the "logs"
// integration: traceLinkTemplate, logsLinkTemplate; placeholders {traceId}, {pipelineId},
// {applicationId}), rendered as the server renders them for the traces list.
import { renderTemplate } from '../observability/forms'
import type { IntegrationConfig } from '../observability/types'

export interface DeepLink {
  kind: 'trace' | 'logs'
  label: string
  href: string
}

const TEMPLATES = [
  { kind: 'trace', field: 'traceLinkTemplate', label: 'Open trace' },
  { kind: 'logs', field: 'logsLinkTemplate', label: 'Open logs' },
] as const

function safeUrl(href: string): boolean {
  try {
    const url = new URL(href)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}

/** The links the configured templates give for this pipeline (none when nothing is set). */
export function pipelineLinks(
  configs: readonly IntegrationConfig[] | undefined,
  pipeline: { id: number; traceId: string; applicationId: number },
): DeepLink[] {
  const config = configs?.find((c) => c.kind === 'logs')?.config
  if (!config) return []
  const values = { traceId: pipeline.traceId, pipelineId: pipeline.id, applicationId: pipeline.applicationId }
  const links: DeepLink[] = []
  for (const t of TEMPLATES) {
    const template = config[t.field]
    if (typeof template !== 'string' || !template.trim()) continue
    const href = renderTemplate(template.trim(), values)
    if (safeUrl(href)) links.push({ kind: t.kind, label: t.label, href })
  }
  return links
}
