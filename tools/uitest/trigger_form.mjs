// The Airflow UI in a real browser (tests/runtime/test_browser_ui.py runs this).
//
//   node tools/uitest/trigger_form.mjs <ui-base-url> <screenshot-dir> [invalid] [valid]
//
// playwright-core drives the system chromium (CHROMIUM, default /usr/bin/chromium; no browser
// download). On the DAG page of platform_provision it opens the trigger form and checks the
// shard count field (streams.trading_events.shards, an integer Param 1..500 from
// flink_platform/params.py):
//   1. out-of-range numbers never leave the field: 0 and 501 are clamped to 1 and 500 when
//      the field loses focus (Airflow 3.3's number input; it shows no message for them);
//   2. an invalid shard count the field accepts (default 2.5: not an integer) is refused
//      on Trigger: the form shows the API's validation error naming the Param, no run is
//      created;
//   3. a valid count (default 3) triggers a run; the UI opens the run, which must turn
//      Success.
// Screenshots: <dir>/trigger-form.png (the form with the error), <dir>/lifecycle-green.png
// (the run page: the green grid and the Success badge). Exit code 0 only if every check
// held; the last stdout line is a JSON summary {"run_id", "shards", ...}.
import { chromium } from "playwright-core";
import path from "node:path";

const [base, outDir, invalid = "2.5", valid = "3"] = process.argv.slice(2);
if (!base || !outDir) {
  console.error("usage: trigger_form.mjs <ui-base-url> <screenshot-dir> [invalid] [valid]");
  process.exit(2);
}
const DAG_ID = "platform_provision";
const FIELD = "streams.trading_events.shards";
const RUN_TIMEOUT_MS = Number(process.env.UITEST_RUN_TIMEOUT_MS ?? 300_000);
const UI_TIMEOUT_MS = 30_000;
const api = `${base.replace(/\/$/, "")}/api/v2`;
const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

function check(ok, message) {
  if (!ok) throw new Error(`check failed: ${message}`);
  log(`ok: ${message}`);
}

async function runCount(page) {
  const resp = await page.request.get(`${api}/dags/${DAG_ID}/dagRuns?limit=1`);
  check(resp.ok(), `GET dagRuns answered ${resp.status()}`);
  return (await resp.json()).total_entries;
}

// Playwright polls the page until the field shows `value` (or the timeout fails the run).
async function waitValue(page, input, value) {
  const handle = await input.elementHandle();
  await page.waitForFunction(([el, v]) => el.value === v, [handle, value],
    { timeout: UI_TIMEOUT_MS });
}

async function openTriggerForm(page) {
  await page.goto(`${base}/dags/${DAG_ID}`);
  await page.getByTestId("trigger-dag-button").click();
  const dialog = page.getByRole("dialog");
  await dialog.getByText(`Trigger Dag - ${DAG_ID}`).waitFor({ timeout: UI_TIMEOUT_MS });
  const field = dialog.getByRole("spinbutton", { name: FIELD, exact: true });
  await field.waitFor({ timeout: UI_TIMEOUT_MS });
  return { dialog, field, trigger: dialog.getByTestId("trigger-dag-submit") };
}

async function submit(page, trigger) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST"
      && r.url().endsWith(`/api/v2/dags/${DAG_ID}/dagRuns`), { timeout: UI_TIMEOUT_MS }),
    trigger.click(),
  ]);
  return resp;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    const { dialog, field, trigger } = await openTriggerForm(page);
    log(`trigger form of ${DAG_ID} open`);
    check(await field.getAttribute("aria-valuemin") === "1"
      && await field.getAttribute("aria-valuemax") === "500",
      `${FIELD} bounds in the form are 1..500 (the Param's schema)`);

    // 1. out of range: the number input clamps when it loses focus
    for (const [typed, clamped] of [["0", "1"], ["501", "500"]]) {
      await field.fill(typed);
      await field.press("Tab");
      await waitValue(page, field, clamped);
      log(`ok: ${typed} typed into ${FIELD} is clamped to ${clamped}`);
    }

    // 2. an invalid count the field takes: Trigger is refused, the form shows why
    const before = await runCount(page);
    await field.fill(invalid);
    await field.press("Tab");
    await waitValue(page, field, invalid);
    const refused = await submit(page, trigger);
    check(refused.status() === 400, `Trigger with ${FIELD}=${invalid} is refused by the `
      + `API (HTTP ${refused.status()})`);
    const alert = dialog.getByTestId("error-alert");
    await alert.filter({ hasText: `Invalid input for param ${FIELD}` })
      .waitFor({ timeout: UI_TIMEOUT_MS });
    const alertText = await alert.innerText();
    log(`form shows: ${alertText.split("\n").filter(Boolean).slice(0, 2).join(" | ")}`);
    check(alertText.includes(`${invalid} is not of type 'integer'`),
      "the form's error names the value and the rule it breaks");
    const toast = page.getByRole("status").filter({ hasText: "Failed to Trigger Dag" });
    await toast.first().waitFor({ timeout: UI_TIMEOUT_MS });
    check(await runCount(page) === before, "no run was created by the refused trigger");
    await alert.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(outDir, "trigger-form.png") });
    // the error toast covers the Trigger button until it goes (hovering pauses it)
    await page.mouse.move(0, 0);
    await page.waitForFunction(() => ![...document.querySelectorAll("[data-scope=toast]")]
      .some((t) => t.textContent.includes("Failed to Trigger Dag")), null,
    { timeout: UI_TIMEOUT_MS });

    // 3. a valid count: the run is created, the UI opens it, it turns Success
    await field.fill(valid);
    await field.press("Tab");
    await waitValue(page, field, valid);
    const accepted = await submit(page, trigger);
    check(accepted.status() === 200, `Trigger with ${FIELD}=${valid} is accepted `
      + `(HTTP ${accepted.status()})`);
    const runId = (await accepted.json()).dag_run_id;
    await page.waitForURL((url) => decodeURIComponent(url.pathname)
      .endsWith(`/dags/${DAG_ID}/runs/${runId}`), { timeout: UI_TIMEOUT_MS });
    log(`the UI opened run ${runId}`);
    const header = page.locator("h2", { hasText: runId }).locator("..");
    const badge = header.getByTestId("state-badge");
    await badge.waitFor({ timeout: UI_TIMEOUT_MS });
    await badge.filter({ hasText: /^(Success|Failed)$/ }).waitFor({ timeout: RUN_TIMEOUT_MS });
    const state = (await badge.innerText()).trim();
    check(state === "Success", `run ${runId} shows ${state} in the UI`);
    // the grid polls on its own schedule and can still draw the run's bar as running:
    // reload, so the screenshot shows the grid as the API has it now (all green)
    await page.reload();
    await badge.filter({ hasText: /^Success$/ }).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.getByTestId(`grid-${runId}-publish_platform`).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.screenshot({ path: path.join(outDir, "lifecycle-green.png") });
    console.log(JSON.stringify({ run_id: runId, shards: Number(valid), state,
      seconds: (Date.now() - started) / 1000 }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
