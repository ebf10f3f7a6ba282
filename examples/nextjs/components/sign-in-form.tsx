"use client";

import { useRouter } from "next/navigation";
import { useMemo, useState, type FormEvent } from "react";
import type { PublicConfig } from "@/lib/config";
import { browserKit } from "@/lib/todo-browser";

export function SignInForm({ config }: { config: PublicConfig }) {
  const router = useRouter();
  const { authClient } = useMemo(() => browserKit(config), [config]);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    const signUp = (event.nativeEvent as SubmitEvent).submitter?.getAttribute("value") === "sign-up";
    const { error } = signUp
      ? await authClient.signUp.email({ name: String(form.get("name") || email), email, password })
      : await authClient.signIn.email({ email, password });
    if (error) return setError(error.message ?? error.statusText);
    setError(null);
    router.refresh(); // the Server Component now sees the session cookie
  }

  return (
    <form onSubmit={submit} aria-label="Sign in">
      <h1>Sign in</h1>
      <label>
        Name <input name="name" autoComplete="name" />
      </label>
      <label>
        E-mail <input name="email" type="email" required autoComplete="email" />
      </label>
      <label>
        Password <input name="password" type="password" required minLength={8} autoComplete="current-password" />
      </label>
      <button type="submit" value="sign-in">Sign in</button>
      <button type="submit" value="sign-up">Sign up</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
