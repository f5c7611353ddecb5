import { describe, expect, it } from 'vitest'
import type { IntegrationConfig } from '../observability/types'
import { pipelineLinks } from './links'

const pipeline = { id: 42, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', applicationId: 7 }

function logs(config: Record<string, unknown> | null): IntegrationConfig[] {
  return [
    { kind: 'grafana', configured: true, config: { baseUrl: 'https://grafana.example' }, updatedAt: null },
    { kind: 'logs', configured: config !== null, config, updatedAt: null },
  ]
}

describe('deep links from the link templates', () => {
  it('fills {traceId}, {pipelineId} and {applicationId} into both templates', () => {
    expect(
      pipelineLinks(
        logs({
          traceLinkTemplate: 'https://tracing.example/trace/{traceId}?p={pipelineId}',
          logsLinkTemplate: ' https://logs.example/search?app={applicationId}&q=pipeline:{pipelineId} ',
        }),
        pipeline,
      ),
    ).toEqual([
      { kind: 'trace', label: 'Open trace', href: 'https://tracing.example/trace/4bf92f3577b34da6a3ce929d0e0e4736?p=42' },
      { kind: 'logs', label: 'Open logs', href: 'https://logs.example/search?app=7&q=pipeline:42' },
    ])
  })

  it('encodes the values and leaves unknown placeholders alone', () => {
    const [link] = pipelineLinks(logs({ traceLinkTemplate: 'https://t.example/{traceId}/{other}' }), {
      ...pipeline,
      traceId: 'a b/c',
    })
    expect(link!.href).toBe('https://t.example/a%20b%2Fc/{other}')
  })

  it('gives nothing without a config, a template, or a web URL', () => {
    expect(pipelineLinks(undefined, pipeline)).toEqual([])
    expect(pipelineLinks(logs(null), pipeline)).toEqual([])
    expect(pipelineLinks(logs({ traceLinkTemplate: null, logsLinkTemplate: '' }), pipeline)).toEqual([])
    expect(pipelineLinks(logs({ traceLinkTemplate: 'javascript:alert({traceId})' }), pipeline)).toEqual([])
    expect(pipelineLinks(logs({ logsLinkTemplate: 'not a url {pipelineId}' }), pipeline)).toEqual([])
  })
})
