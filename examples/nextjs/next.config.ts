import path from "node:path";
import type { NextConfig } from "next";

// The typed client is a local package two folders up (file:../../clients/typescript), so the
// root Turbopack may read from is the repository's. In an app of your own, leave this out.
const root = path.join(__dirname, "..", "..");

const nextConfig: NextConfig = {
  turbopack: { root },
  outputFileTracingRoot: root,
  // A CI run builds once from a clean clone: a cache it would never read only costs time.
  experimental: { turbopackFileSystemCacheForBuild: !process.env.CI },
};

export default nextConfig;
