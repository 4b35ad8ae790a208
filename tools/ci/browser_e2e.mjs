// Drive examples/web in headless Chromium (Debian's chromium, through playwright-core) as a user
// would: pick scans of eights as the new class user0 and nines as user1, draw one more of each
// on the pad, train, predict a drawing, take a screenshot, save the state file, reload (the
// trained state comes back from IndexedDB). Writes what the page reports to RUN/run.json for
// tests/web to check against the Python runtime.
//
//   node tools/ci/browser_e2e.mjs URL SITE RUN
import { createRequire } from "node:module";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(new URL("../../js/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [url, site, run] = process.argv.slice(2);
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

// Strokes in the pad's 192x192 space: an eight (two loops) and a nine (loop and stem).
function loop(cx, cy, rx, ry) {
  return Array.from({ length: 25 }, (_, i) => [cx + rx * Math.sin((i / 24) * 2 * Math.PI), cy - ry * Math.cos((i / 24) * 2 * Math.PI)]);
}
const EIGHT = [loop(96, 60, 34, 34), loop(96, 128, 40, 34)];
const NINE = [loop(96, 64, 36, 36), [[132, 64], [130, 110], [124, 170]]];

async function draw(page, strokes) {
  const box = await page.locator("#pad").boundingBox();
  const scale = box.width / 192;
  for (const stroke of strokes) {
    await page.mouse.move(box.x + stroke[0][0] * scale, box.y + stroke[0][1] * scale);
    await page.mouse.down();
    for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x * scale, box.y + y * scale, { steps: 3 });
    await page.mouse.up();
  }
}

async function ready(page) {
  await page.goto(url);
  await page.waitForFunction(() => window.demo?.settings || window.demo?.error, null, { timeout: 60000 });
  return page.evaluate(() => ({ loadSeconds: window.demo.loadSeconds, restoredSteps: window.demo.restoredSteps, error: window.demo.error }));
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS, headless: true });
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 760 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const first = await ready(page);
  if (first.error) throw new Error(`the page failed to load: ${first.error}`);
  const samples = readdirSync(join(site, "samples"));
  for (const label of ["user0", "user1"]) {
    await page.selectOption("#class", label);
    const picked = samples.filter((n) => n.startsWith(`${label}-`)).map((n) => join(site, "samples", n));
    await page.setInputFiles("#files", picked);
    await page.waitForFunction(([l, n]) => document.getElementById("counts").textContent.includes(`${l}: ${n}`), [label, picked.length]);
    await draw(page, label === "user0" ? EIGHT : NINE);
    await page.click("#add");
  }
  await page.click("#train");
  await page.waitForFunction(() => window.demo.trained || window.demo.error, null, { timeout: 600000 });
  await draw(page, EIGHT);
  await page.click("#predict");
  await page.waitForFunction(() => window.demo.prediction);
  await page.screenshot({ path: join(run, "screenshot.png"), fullPage: true });
  const record = await page.evaluate(() => window.demo);
  const download = page.waitForEvent("download");
  await page.click("#save");
  await (await download).saveAs(join(run, "trained.ckpt"));
  const again = await ready(page);
  record.reload = again;
  record.pageErrors = errors;
  writeFileSync(join(run, "run.json"), JSON.stringify(record));
  if (record.error) throw new Error(`training failed in the page: ${record.error}`);
  console.log(`page loaded in ${first.loadSeconds.toFixed(2)} s; ${record.trained.steps} steps at ${record.trained.stepsPerSecond.toFixed(0)} steps/s; ` +
    `held-out accuracy ${record.epochs.map((e) => e.validationAccuracy.toFixed(3)).join(" ")}`);
} finally {
  await browser.close();
}
