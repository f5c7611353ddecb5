// End-to-end: drive Debian's Chromium (playwright-core, no downloaded browser) through the
// dashboard served by a real `pipelogiq serve --demo`.
//
//   PIPELOGIQ_URL=http://127.0.0.1:8080 node e2e/run.mjs
//
// Env: PIPELOGIQ_URL (required), PIPELOGIQ_EMAIL / PIPELOGIQ_PASSWORD (default the demo admin),
// CHROMIUM (default /usr/bin/chromium). Screenshots go to e2e/screenshots/.
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const base = (process.env.PIPELOGIQ_URL ?? '').replace(/\/$/, '')
if (!base) {
  console.error('set PIPELOGIQ_URL to the internal server, e.g. http://127.0.0.1:8080')
  process.exit(2)
}
const email = process.env.PIPELOGIQ_EMAIL ?? 'admin@example.com'
const password = process.env.PIPELOGIQ_PASSWORD ?? 'admin-password'
const shots = join(dirname(fileURLToPath(import.meta.url)), 'screenshots')
mkdirSync(shots, { recursive: true })

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
})
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
const page = await context.newPage()
page.setDefaultTimeout(20_000)
const pageErrors = []
page.on('pageerror', (err) => pageErrors.push(String(err)))

let passed = 0
let failed = 0
async function step(name, fn) {
  const started = Date.now()
  try {
    await fn()
    passed += 1
    console.log(`ok   ${name} (${Date.now() - started} ms)`)
  } catch (err) {
    failed += 1
    console.log(`FAIL ${name}: ${err instanceof Error ? err.message.split('\n')[0] : err}`)
    await page.screenshot({ path: join(shots, `failed-${name.replace(/\W+/g, '-')}.png`) }).catch(() => {})
    throw err
  }
}
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
const rowIds = () =>
  page.$$eval('[data-testid="pipeline-row"]', (rows) => rows.map((r) => Number(r.getAttribute('data-id'))))

try {
  await step('an unauthenticated visit goes to login with next', async () => {
    await page.goto(`${base}/pipelines`)
    await page.waitForURL(/\/login\?next=%2Fpipelines/)
    await shot('01-login')
  })

  await step('a wrong password shows an error', async () => {
    await page.fill('input[name=email]', email)
    await page.fill('input[name=password]', 'not-the-password')
    await page.click('button[type=submit]')
    await page.getByRole('alert').waitFor()
  })

  await step('logs in and returns to the pipelines', async () => {
    await page.fill('input[name=password]', password)
    await page.click('button[type=submit]')
    await page.waitForURL(`${base}/pipelines`)
    await page.locator('[data-testid="live-state"][data-state="open"]').waitFor()
  })

  await step('the pipelines table fills live from the demo, without reload', async () => {
    await page.locator('[data-testid="pipeline-row"]').first().waitFor()
    await page.evaluate(() => {
      window.__noReload = true
    })
    const before = Math.max(...(await rowIds()))
    await page.waitForFunction(
      (max) =>
        [...document.querySelectorAll('[data-testid="pipeline-row"]')].some(
          (r) => Number(r.getAttribute('data-id')) > max,
        ),
      before,
      { timeout: 30_000 },
    )
    // a pipeline seen running on the page finishes on the page
    const running = page.locator('[data-testid="pipeline-row"]:has([data-testid="status-badge"][data-status="Running"])').first()
    if (await running.count()) {
      const id = await running.getAttribute('data-id')
      await page
        .locator(`[data-testid="pipeline-row"][data-id="${id}"] [data-testid="status-badge"]:not([data-status="Running"])`)
        .waitFor({ timeout: 30_000 })
    }
    if (!(await page.evaluate(() => window.__noReload === true))) throw new Error('the page reloaded')
    await shot('02-pipelines')
  })

  await step('filters by status (URL holds the filter)', async () => {
    await page.click('[data-testid="status-filter"]')
    await page.click('[data-testid="status-option-Completed"]')
    await page.keyboard.press('Escape')
    await page.waitForURL(/status=Completed/)
    await page.waitForFunction(() => {
      const badges = [...document.querySelectorAll('[data-testid="pipeline-row"] [data-testid="status-badge"]')]
      return badges.length > 0 && badges.every((b) => b.getAttribute('data-status') === 'Completed')
    })
    await shot('03-pipelines-completed')
  })

  await step('filters by a context value', async () => {
    await page.goto(`${base}/pipelines?ctx=items%3A3`)
    await page.locator('[data-testid="pipeline-row"], [data-testid="empty"]').first().waitFor()
  })

  await step('opens a pipeline and sees its stages', async () => {
    await page.goto(`${base}/pipelines?status=Completed`)
    const first = page.locator('[data-testid="pipeline-row"] a').first()
    await first.click()
    await page.waitForURL(/\/pipelines\/\d+$/)
    await page.locator('[data-testid="stage-graph"]').waitFor()
    const cards = await page.locator('[data-testid="stage-card"]').count()
    if (cards < 1) throw new Error('no stage cards')
    await page.locator('[data-testid="trace-id"]').waitFor()
    await shot('04-pipeline-detail')
  })

  await step('reruns the last stage (confirm, toast) and sees it complete again live', async () => {
    const card = page.locator('[data-testid="stage-card"]').last()
    const logsBefore = await card.locator('summary').innerText() // "Logs (N)"
    const countBefore = Number(/\((\d+)\)/.exec(logsBefore)?.[1] ?? '0')
    await card.getByRole('button', { name: 'Rerun', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Rerun stage' }).click()
    await page.locator('[data-testid="toast"][data-variant="success"]').first().waitFor()
    await page.waitForFunction(
      (before) => {
        const cards = document.querySelectorAll('[data-testid="stage-card"]')
        const last = cards[cards.length - 1]
        const n = Number(/\((\d+)\)/.exec(last?.querySelector('summary')?.textContent ?? '')?.[1] ?? '0')
        return last?.getAttribute('data-status') === 'Completed' && n > before
      },
      countBefore,
      { timeout: 30_000 },
    )
    await shot('05-pipeline-rerun')
  })

  await step('skips a stage no worker serves; the pipeline completes live', async () => {
    const apps = await (await page.request.get(`${base}/api/applications`)).json()
    const app = apps.find((a) => a.name === 'demo') ?? apps[0]
    const created = await page.request.post(`${base}/api/pipelines`, {
      headers: { Origin: base },
      data: {
        applicationId: app.id,
        name: `e2e-skip-${Date.now()}`,
        stages: [{ stageName: 'nobody-serves-this', stageHandlerName: 'e2e.nobody' }],
      },
    })
    if (created.status() !== 201) throw new Error(`create: ${created.status()} ${await created.text()}`)
    const pipeline = await created.json()
    await page.goto(`${base}/pipelines/${pipeline.id}`)
    const card = page.locator('[data-testid="stage-card"][data-status="Pending"]')
    await card.waitFor()
    await card.getByRole('button', { name: 'Skip', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Skip stage' }).click()
    await page.locator('[data-testid="toast"][data-variant="success"]').first().waitFor()
    await page.locator('[data-testid="stage-card"][data-status="Skipped"]').waitFor()
    await page.waitForFunction(
      () => document.querySelector('[data-testid="pipeline-detail"] h1, [data-testid="pipeline-detail"] h2')
        ?.parentElement?.textContent?.includes('Completed'),
      null,
      { timeout: 30_000 },
    )
    await shot('11-pipeline-skipped')
  })

  await step('a failed pipeline shows its output in red (if the demo has one)', async () => {
    await page.goto(`${base}/pipelines?status=Failed`)
    await page.locator('[data-testid="pipeline-row"], [data-testid="empty"]').first().waitFor()
    if ((await page.locator('[data-testid="pipeline-row"]').count()) === 0) {
      console.log('     (no failed pipeline in the demo yet: nothing to show)')
      return
    }
    await page.locator('[data-testid="pipeline-row"] a').first().click()
    await page.locator('[data-testid="stage-card"][data-status="Failed"] [data-testid="stage-logs"]').first().waitFor()
    await shot('06-pipeline-failed')
  })

  await step('the Workers page shows the demo worker', async () => {
    await page.getByRole('link', { name: 'Workers' }).click()
    await page.waitForURL(`${base}/workers`)
    await page.locator('[data-testid="worker-row"]', { hasText: 'demo-worker' }).waitFor()
    await shot('07-workers')
  })

  await step('the theme toggles to dark and is remembered', async () => {
    const dark = await page.evaluate(() => document.documentElement.classList.contains('dark'))
    await page.click('[data-testid="theme-toggle"]')
    await page.reload()
    await page.locator('[data-testid="worker-row"]').first().waitFor()
    const after = await page.evaluate(() => document.documentElement.classList.contains('dark'))
    if (after === dark) throw new Error('theme not remembered')
    await shot('08-workers-theme')
  })

  await step('Dashboard: the landing page shows KPIs and the chart; the live feed receives an event', async () => {
    await page.goto(`${base}/`)
    await page.waitForURL(`${base}/dashboard`)
    const first = (await page.getByRole('navigation', { name: 'Main' }).getByRole('link').first().innerText()).trim()
    if (first !== 'Dashboard') throw new Error(`the first sidebar entry is ${first}`)
    for (const kpi of ['running', 'completed', 'failed', 'in-flight', 'throughput', 'workers']) {
      await page.locator(`[data-testid="kpi"][data-kpi="${kpi}"] [data-testid="kpi-value"]`).waitFor()
    }
    const completed = Number(await page.locator('[data-kpi="completed"] [data-testid="kpi-value"]').innerText())
    if (!(completed > 0)) throw new Error(`completed KPI is ${completed} while the demo runs`)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="workers-online"]')?.textContent) >= 1)
    await page.locator('[data-testid="executions-chart"] svg polyline').first().waitFor()
    await page.locator('[data-testid="activity-empty"], [data-testid="activity-item"]').first().waitFor()
    await page.locator('[data-testid="activity-item"]').first().waitFor({ timeout: 30_000 })
    await shot('30-dashboard')
  })

  await step('Observability: configures alerting with a URL, tests the connection and shows the result', async () => {
    const { createServer } = await import('node:http')
    const { createHmac } = await import('node:crypto')
    const received = []
    const hook = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, signature: req.headers['x-pipelogiq-signature'], body })
        res.writeHead(204).end()
      })
    })
    await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve))
    hook.unref()
    const hookUrl = `http://127.0.0.1:${hook.address().port}/hook`
    const secret = 'e2e-signing-secret-0123'

    await page.getByRole('link', { name: 'Observability' }).click()
    await page.waitForURL(`${base}/observability`)
    const card = page.locator('[data-testid="integration-card"][data-kind="alerting"]')
    await card.getByRole('button', { name: 'Configure' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.locator('input[name=enabled]').check()
    await dialog.locator('input[name=webhookUrl]').fill(hookUrl)
    await dialog.locator('input[name=secret]').fill(secret)
    await dialog.getByRole('button', { name: 'Save' }).click()
    await page.locator('[data-testid="toast"][data-variant="success"]', { hasText: 'Alerting saved' }).first().waitFor()
    await dialog.waitFor({ state: 'detached' })
    await card.locator('[data-testid="integration-state"]', { hasText: 'Enabled' }).waitFor()
    await card.getByText(hookUrl).waitFor()

    await card.getByRole('button', { name: 'Test connection' }).click()
    await card.locator('[data-testid="test-result"][data-ok="true"]').waitFor()
    await page.locator('[data-testid="toast"]', { hasText: 'connection OK' }).first().waitFor()
    const test = received.find((r) => r.body.includes('"event":"test"'))
    if (!test) throw new Error(`the webhook got no test alert (${received.length} requests)`)
    const expected = 'sha256=' + createHmac('sha256', secret).update(test.body).digest('hex')
    if (test.signature !== expected) throw new Error('the test alert is not signed with the secret')
    await shot('31-observability-alerting')

    // the secret comes back masked, and saving it unchanged keeps it
    await card.getByRole('button', { name: 'Configure' }).click()
    const masked = await dialog.locator('input[name=secret]').inputValue()
    if (!masked.endsWith('…') || masked.includes(secret)) throw new Error(`the secret is not masked: ${masked}`)
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'detached' })
  })

  await step('Observability: a trace link template deep-links each trace; insights show the slowest stages', async () => {
    const card = page.locator('[data-testid="integration-card"][data-kind="logs"]')
    await card.getByRole('button', { name: 'Configure' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.locator('input[name=traceLinkTemplate]').fill('https://tracing.example.com/trace/{traceId}?p={pipelineId}')
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.waitFor({ state: 'detached' })
    await card.locator('[data-testid="integration-state"]', { hasText: 'Active' }).waitFor()

    await page.click('[data-testid="tab-traces"]')
    const row = page.locator('[data-testid="trace-row"]').first()
    await row.locator('[data-testid="trace-link"]').waitFor()
    const id = await row.getAttribute('data-id')
    const traceId = (await row.locator('td').nth(2).innerText()).trim()
    const href = await row.locator('[data-testid="trace-link"]').getAttribute('href')
    if (href !== `https://tracing.example.com/trace/${traceId}?p=${id}`) throw new Error(`trace link ${href}`)
    await shot('32-observability-traces')

    await page.click('[data-testid="tab-insights"]')
    await page.locator('[data-testid="slow-stage"]').first().waitFor()
    await page.locator('[data-testid="throughput-chart"] svg').waitFor()
    await shot('33-observability-insights')
  })

  await step("opens the demo worker's detail: its events and heartbeats", async () => {
    await page.getByRole('link', { name: 'Workers' }).click()
    await page.waitForURL(`${base}/workers`)
    await page.locator('[data-testid="worker-row"]', { hasText: 'demo-worker' }).getByTestId('worker-link').click()
    await page.waitForURL(/\/workers\/[0-9a-f-]{36}$/)
    await page.locator('[data-testid="worker-name"]', { hasText: 'demo-worker' }).waitFor()
    await page.locator('[data-testid="worker-event"][data-type="started"]').waitFor()
    await page.locator('[data-testid="heartbeat-row"]').first().waitFor()
    await shot('34-worker-detail')
  })

  let keyName = ''
  await step('Settings: creates an API key and shows its secret once', async () => {
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.waitForURL(`${base}/settings`)
    const app = page.locator('[data-testid="application-row"][data-name="demo"], [data-testid="application-row"][data-name="default"]').first()
    await app.waitFor()
    const appName = await app.getAttribute('data-name')
    if ((await app.getAttribute('data-selected')) !== 'true') await app.getByRole('button', { name: 'API keys' }).click()
    await page.locator(`[data-testid="api-keys"][data-application="${appName}"]`).waitFor()
    await page.locator('[data-testid="api-keys-table"], [data-testid="api-keys"] [data-testid="empty"]').first().waitFor()
    keyName = `e2e-${Date.now()}`
    await page.fill('input[name=keyName]', keyName)
    await page.getByRole('button', { name: 'Create key' }).click()
    const secretEl = page.locator('[data-testid="api-key-secret"]')
    await secretEl.waitFor()
    const secret = (await secretEl.innerText()).trim()
    if (!secret.startsWith('plq_')) throw new Error(`the secret does not start with plq_: ${secret.slice(0, 8)}…`)
    if (!(await page.getByRole('dialog').innerText()).includes('will not be shown again')) throw new Error('no "shown once" note')
    await page.locator('[data-testid="toast"][data-variant="success"]', { hasText: keyName }).first().waitFor()
    await shot('09-settings-key-created')
    await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click()
    await secretEl.waitFor({ state: 'detached' })
    const row = page.locator(`[data-testid="api-key-row"][data-name="${keyName}"]`)
    await row.locator('[data-testid="api-key-status"][data-status="active"]').waitFor()
    const leaked = await page.evaluate((s) => document.documentElement.outerHTML.includes(s), secret)
    if (leaked) throw new Error('the secret is still on the page after closing the dialog')
  })

  await step('Settings: disables the key (confirm, toast) and its status turns disabled', async () => {
    const row = page.locator(`[data-testid="api-key-row"][data-name="${keyName}"]`)
    await row.getByRole('button', { name: 'Disable', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Disable key' }).click()
    await page.locator('[data-testid="toast"][data-variant="success"]', { hasText: 'disabled' }).first().waitFor()
    await row.locator('[data-testid="api-key-status"][data-status="disabled"]').waitFor()
    if (await row.getByRole('button', { name: 'Disable', exact: true }).count()) throw new Error('a disabled key still offers Disable')
    await page.locator('[data-testid="users-table"] [data-testid="user-row"]').first().waitFor()
    await shot('10-settings-key-disabled')
  })

  await step('Policies: creates a rate_limit policy with the wizard, sees its audit entry, pauses it', async () => {
    await page.getByRole('link', { name: 'Policies' }).click()
    await page.waitForURL(`${base}/policies`)
    await page.locator('[data-testid="policies-table"], [data-testid="policies-page"] [data-testid="empty"]').first().waitFor()
    await page.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid="kpi-total"]')?.textContent ?? ''))
    const name = `e2e-rate-${Date.now()}`
    await page.click('[data-testid="new-policy"]')
    const wizard = page.locator('[data-testid="policy-wizard"]')
    // 1. type
    await wizard.locator('input[name=policyName]').fill(name)
    await wizard.locator('select[name=policyApplication]').selectOption({ label: 'demo' })
    await wizard.locator('[data-testid="policy-type-rate_limit"]').click()
    await wizard.getByTestId('wizard-next').click()
    // 2. rules: checked before leaving the step
    await wizard.locator('input[name=windowSeconds]').fill('0')
    await wizard.getByTestId('wizard-next').click()
    await wizard.locator('[data-testid="field-error"]', { hasText: 'must be greater than 0' }).waitFor()
    await wizard.locator('input[name=windowSeconds]').fill('60')
    await wizard.locator('input[name=limit]').fill('1000') // generous: the demo keeps flowing
    await wizard.locator('select[name=keyBy]').selectOption('handler')
    await wizard.getByTestId('wizard-next').click()
    // 3. targeting the demo's handler, with a live match preview
    await wizard.locator('input[name=handlers]').fill('demo.fetch')
    await wizard.locator('input[name=handlers]').press('Enter')
    await wizard.locator('[data-testid="tags-handlers"] [data-testid="tag-chip"]', { hasText: 'demo.fetch' }).waitFor()
    await wizard.locator('[data-testid="targeting-preview"][data-current="true"]').waitFor()
    const matched = Number(await wizard.getByTestId('preview-summary').getAttribute('data-matched'))
    if (!(matched > 0)) throw new Error(`the preview matches ${matched} pipelines`)
    const handlers = await wizard.locator('[data-testid="targeting-preview"]').innerText()
    if (handlers.includes('demo.transform')) throw new Error('the preview lists stages of other handlers')
    await wizard.getByTestId('wizard-next').click()
    // 4. review, create
    const review = await wizard.getByTestId('policy-review-json').innerText()
    if (!review.includes('"rate_limit"') || !review.includes('"demo.fetch"')) throw new Error(`review: ${review}`)
    await wizard.getByTestId('wizard-submit').click()
    await page.locator('[data-testid="toast"][data-variant="success"]', { hasText: name }).first().waitFor()
    await wizard.waitFor({ state: 'detached' })
    const row = page.locator(`[data-testid="policy-row"][data-name="${name}"]`)
    await row.locator('[data-testid="policy-status"][data-status="active"]').waitFor()
    await shot('40-policies')
    // the drawer: its audit trail starts with the creation; pause it there
    await row.getByTestId('policy-open').click()
    const drawer = page.locator('[data-testid="policy-drawer"]')
    await drawer.getByTestId('drawer-name').filter({ hasText: name }).waitFor()
    await drawer.getByTestId('drawer-tab-audit').click()
    await drawer.locator('[data-testid="audit-entry"][data-kind="created"][data-version="1"]').waitFor()
    await drawer.getByRole('button', { name: 'Pause', exact: true }).click()
    await page.locator('[data-testid="toast"][data-variant="success"]', { hasText: `"${name}" paused` }).first().waitFor()
    await drawer.locator('[data-testid="policy-status"][data-status="paused"]').waitFor()
    await drawer.locator('[data-testid="audit-entry"][data-kind="paused"][data-version="2"]').waitFor()
    await shot('41-policy-drawer-audit')
    await drawer.getByRole('button', { name: 'Close' }).click()
    await drawer.waitFor({ state: 'detached' })
    await row.locator('[data-testid="policy-status"][data-status="paused"]').waitFor()
  })

  await step('logs out', async () => {
    await page.click('[data-testid="user-menu"]')
    await page.getByRole('menuitem', { name: 'Log out' }).click()
    await page.waitForURL(/\/login/)
    await page.goto(`${base}/workers`)
    await page.waitForURL(/\/login\?next=%2Fworkers/)
  })

  if (pageErrors.length) throw new Error(`errors on the page: ${pageErrors.join('; ')}`)
} catch {
  // reported by step()
} finally {
  await browser.close()
}
if (pageErrors.length) console.log(`page errors: ${pageErrors.join('; ')}`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed || pageErrors.length ? 1 : 0)
