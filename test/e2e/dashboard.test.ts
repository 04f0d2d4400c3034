/**
 * The dashboard in a real headless Chromium against a real API and workers: create hello-web,
 * execute it, watch its badge reach `deployed` live on the list, stop it, all by clicking;
 * errors and hostile text shown as text; the token box when the API needs one.
 */
import { expect } from 'chai';
import { mkdir, rm } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import { requireBinary } from '../helpers/sshd.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
const LIVE_MS = 150_000;

describe('e2e: the dashboard in headless Chromium', function () {
  this.timeout(300_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;
  let browser: Browser;
  let context: BrowserContext;
  /** Uncaught errors and console errors (a CSP violation is one) of every page. */
  const pageErrors: string[] = [];

  before(async function () {
    requireBinary(CHROMIUM, 'chromium', this);
    scenarios = await copyExample('hello-web');
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.on('page', (page) => {
      page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
      page.on('console', (msg) => {
        // the API's refusals the tests provoke (422, 401) are logged by Chromium; nothing else
        const provoked = /Failed to load resource: .* status of (401|422)\b/.test(msg.text());
        if (msg.type() === 'error' && !provoked) {
          pageErrors.push(`${page.url()}: ${msg.text()}`);
        }
      });
    });
  });

  after(async () => {
    await browser?.close();
    await api?.close();
    await h?.close();
    if (scenarios) {
      await rm(scenarios, { recursive: true, force: true });
    }
  });

  /** The actions of the buttons in the detail page's action bar, in order. */
  const actionsOf = (page: Page) =>
    page
      .locator('#actions button')
      .evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action')));

  it('serves its pages with a strict Content-Security-Policy, revalidated on every load', async () => {
    for (const path of ['/', '/deployments/00000000-0000-4000-8000-000000000000']) {
      const res = await fetch(`${api.url}${path}`);
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).to.contain("default-src 'none'").and.contain("script-src 'self'");
      expect(csp).to.not.contain('unsafe-inline');
      expect(res.headers.get('cache-control')).to.equal('no-cache');
      expect(await res.text()).to.not.match(/<script(?![^>]*\bsrc=)/); // no inline script
    }
    const js = await fetch(`${api.url}/dashboard/common.js`);
    expect(js.headers.get('content-type')).to.match(/^text\/javascript/);
    expect((await fetch(`${api.url}/dashboard/routes.ts`)).status).to.equal(404);
    expect((await fetch(`${api.url}/dashboard/../app.ts`)).status).to.equal(404);
  });

  it('shows an API error as its code and message, as text, never as markup', async () => {
    const page = await context.newPage();
    await page.goto(`${api.url}/`);
    await page.locator('#create summary').click();
    const hostile = '<img src=x onerror="window.__pwned=1">';
    await page
      .locator('#manifest')
      .fill(JSON.stringify(buildManifest({ ports: { [hostile]: 1 } })));
    await page.locator('#create-button').click();
    const box = page.locator('#create-error');
    await box.waitFor({ state: 'visible' });
    expect(await box.textContent())
      .to.contain('invalid_manifest')
      .and.contain(hostile);
    expect(await box.locator('img').count()).to.equal(0);
    expect(await page.evaluate('window.__pwned')).to.equal(undefined);
    await page.locator('#manifest').fill('{"version": 1,');
    await page.locator('#create-button').click();
    await page.locator('#create-error', { hasText: 'invalid_json' }).waitFor();
    await page.close();
  });

  it('creates hello-web, executes it, sees it deployed live on the list, stops it: by clicking', async () => {
    const list = await context.newPage();
    await list.goto(`${api.url}/`);
    await list.locator('#live[data-state="live"]').waitFor();
    const manifest = buildManifest({
      name: 'dash-hello',
      target: { type: 'local', workdir: 'targets/dash' },
      ports: { web: await freePort() },
    });
    await list.locator('#create summary').click();
    await list.locator('#manifest').fill(JSON.stringify(manifest, null, 2));
    await list.locator('#execute').uncheck();
    await list.locator('#create-button').click();
    const row = list.locator('#deployments tbody tr', { hasText: 'dash-hello' });
    await row.locator('.badge[data-value="pending"]').waitFor();
    const id = (await row.getAttribute('data-id'))!;
    // the list page must follow the run by itself: record every badge it shows, never reload
    await list.evaluate(`(() => {
      window.__kept = true;
      window.__seen = [];
      const body = document.querySelector('#deployments tbody');
      new MutationObserver(() => {
        const v = document.querySelector('tr[data-id="${id}"] td.status .badge')?.dataset.value;
        if (v && window.__seen[window.__seen.length - 1] !== v) window.__seen.push(v);
      }).observe(body, { childList: true, subtree: true });
    })()`);

    // the detail page in a second tab (ctrl+click): only Execute is allowed while pending
    const [detail] = await Promise.all([
      context.waitForEvent('page'),
      row.locator('a').click({ modifiers: ['Control'] }),
    ]);
    await detail.waitForURL(`**/deployments/${id}`);
    await detail.locator('#head .badge[data-value="pending"]').waitFor();
    await detail.locator('#actions button').first().waitFor();
    expect(await actionsOf(detail)).to.deep.equal(['execute']);
    await detail.locator('#actions button[data-action="execute"]').click();

    await row.locator('.badge[data-value="deployed"]').waitFor({ timeout: LIVE_MS });
    expect(await list.evaluate('window.__kept')).to.equal(true);
    const seen = (await list.evaluate('window.__seen')) as string[];
    expect(seen[seen.length - 1]).to.equal('deployed');
    // the feed sends state, not history: a fast step may be folded into the next, not all
    const between = ['setup_running', 'setup_complete', 'deploying'];
    expect(
      seen.some((s) => between.includes(s)),
      `states shown: ${seen.join(' ')}`,
    ).to.equal(true);

    // the detail page followed too: timeline, steps with durations, logs, the allowed actions
    await detail.locator('#head .badge[data-value="deployed"]').waitFor({ timeout: 30_000 });
    await detail.locator('#actions button[data-action="stop"]').waitFor();
    const d = (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment;
    expect(await actionsOf(detail)).to.deep.equal(d.actions);
    expect(d.actions).to.deep.equal(['execute', 'redeploy', 'stop', 'rollback']);
    const timeline = (await detail.locator('#timeline').textContent()) ?? '';
    expect(timeline).to.contain('run started').and.contain('deployed');
    const steps = detail.locator('.stage[data-stage="deploy"] tr');
    expect(await steps.count()).to.equal(d.deploy_result.steps.length);
    expect(
      await detail
        .locator('.stage[data-stage="deploy"] tr[data-step="health_check"] td.num')
        .textContent(),
    ).to.match(/^\d+(\.\d)? (ms|s)$|min/);
    expect(await detail.locator('#logs .log').count()).to.be.above(0);

    await detail.locator('#actions button[data-action="stop"]').click();
    await detail.locator('#head .badge[data-value="stopped"]').waitFor({ timeout: LIVE_MS });
    await detail.locator('.stage[data-stage="stop"]').waitFor();
    await row.locator('.badge[data-value="stopped"]').waitFor({ timeout: 30_000 });
    await detail.locator('#actions button[data-action="redeploy"]').waitFor();
    expect(await actionsOf(detail)).to.deep.equal(['execute', 'redeploy', 'rollback']);

    await mkdir(ARTIFACTS, { recursive: true });
    await list.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    await detail.screenshot({ path: `${ARTIFACTS}/dashboard-detail.png`, fullPage: true });
    expect(pageErrors).to.deep.equal([]);
    await detail.close();
    await list.close();
  });

  it('asks for a token once the API needs one, and works with it', async () => {
    const created = await api.call('POST', '/api/v1/tokens', { name: 'dashboard-e2e' });
    expect(created.status).to.equal(201);
    const page = await context.newPage();
    await page.goto(`${api.url}/`);
    await page.locator('#list-error', { hasText: 'unauthorized' }).waitFor();
    await page.locator('#token-form input').fill(created.body.token as string);
    await page.locator('#token-form button').click();
    await page.locator('#deployments tbody tr', { hasText: 'dash-hello' }).waitFor();
    await page.locator('#live[data-state="live"]').waitFor();
    expect(await page.locator('#list-error').isVisible()).to.equal(false);
    await page.close();
    expect(pageErrors).to.deep.equal([]);
  });
});
