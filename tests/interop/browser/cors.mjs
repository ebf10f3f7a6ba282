// Call the service from a page on another origin, as a Next.js app in the browser does:
// `fetch` with a bearer token (a CORS preflight), reading the headers CORS exposes.
//
// Usage: node cors.mjs   with PAGE_URL (the page's origin), SERVICE_URL, TOKEN and CHROMIUM set.
// Prints one JSON object: every URL requested, and what `fetch` gave back (or its error).
import { required, withChromium } from "./chromium.mjs";

const report = await withChromium(async (page) => {
  await page.goto(required("PAGE_URL"));
  const outcome = await page.evaluate(
    async ({ serviceUrl, token }) => {
      try {
        const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
        const created = await fetch(`${serviceUrl}/api/tasks`, {
          method: "POST",
          headers,
          body: JSON.stringify({ title: "from another origin" }),
        });
        const listed = await fetch(`${serviceUrl}/api/tasks?limit=1`, { headers });
        return {
          created: {
            status: created.status,
            location: created.headers.get("Location"),
            etag: created.headers.get("ETag"),
          },
          listed: {
            status: listed.status,
            total: listed.headers.get("X-Total-Count"),
            body: await listed.json(),
          },
        };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { serviceUrl: required("SERVICE_URL"), token: required("TOKEN") },
  );
  return { origin: await page.evaluate(() => window.location.origin), ...outcome };
});
console.log(JSON.stringify(report));
