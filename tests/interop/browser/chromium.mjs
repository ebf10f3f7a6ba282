// The system's Chromium, headless and offline in effect, with every page request recorded.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const STEP_TIMEOUT_MS = 15_000;

// Without the background-networking flags Chromium phones home (updates, sync, field
// trials); on a closed network that only fails and slows things down. Offline, in effect:
// every host name but loopback is unresolvable, and everything not on loopback (Chromium
// never proxies loopback) goes to a proxy on a port where nothing listens.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
  "--proxy-server=http://127.0.0.1:9",
];

export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

// Run `steps(page)` in a fresh profile; returns its result and every URL the page requested.
// `options` go to the browser context as they are (e.g. a `timezoneId` to emulate).
export async function withChromium(steps, options = {}) {
  const profile = await mkdtemp(join(tmpdir(), "todo-api-chromium-"));
  const requests = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: required("CHROMIUM"),
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 1600 },
      ...options,
    });
    // Observed, not intercepted: interception would let Playwright answer CORS preflights
    // itself, and the browser's own CORS behaviour is part of what is tested.
    context.on("request", (request) => requests.push(request.url()));
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const result = await steps(page);
    return { requests, ...result };
  } finally {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
  }
}
