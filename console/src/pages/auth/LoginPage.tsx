import { useEffect, useState } from "preact/hooks";
import { api, login, type Schemas } from "../../api/client";
import { ErrorBanner, Notice } from "../../components/ui";

// Sign-in, and first-run setup when the deployment has none yet (setup answers only on
// localhost unless the operator allows remote setup; elsewhere the status call is refused and
// the plain sign-in form shows).
export function LoginPage() {
  const [needsSetup, setNeedsSetup] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  useEffect(() => {
    api.get<Schemas["SetupStatus"]>("/api/v1/auth/status", { auth: false }).then(
      (status) => setNeedsSetup(status.needs_setup),
      () => setNeedsSetup(false),
    );
  }, []);
  return (
    <main id="main" class="auth">
      <h1>MoleSignal</h1>
      {done && <Notice>{done}</Notice>}
      {needsSetup ? (
        <SetupForm
          onDone={(user) => {
            setNeedsSetup(false);
            setDone(`Setup complete. Sign in as ${user}.`);
          }}
        />
      ) : (
        <SignInForm />
      )}
    </main>
  );
}

function SignInForm() {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card"
      aria-labelledby="signin-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await login(user, password);
        } catch (caught) {
          setError(caught);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="signin-title">Sign in</h2>
      <ErrorBanner error={error} />
      <label>
        User
        <input name="user" autoComplete="username" required value={user} onInput={(e) => setUser(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}

function SetupForm({ onDone }: { onDone: (user: string) => void }) {
  const [form, setForm] = useState({ user: "admin", password: "", root_password: "", email: "", org_name: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onInput: (e: Event) => setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value }),
  });
  return (
    <form
      class="card"
      aria-labelledby="setup-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          const body: Record<string, string> = { user: form.user, password: form.password };
          if (form.root_password) body.root_password = form.root_password;
          if (form.email) body.email = form.email;
          if (form.org_name) body.org_name = form.org_name;
          await api.post("/api/v1/auth/setup", body, { auth: false });
          onDone(form.user);
        } catch (caught) {
          setError(caught);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="setup-title">First-run setup</h2>
      <p>Create the first organisation and its administrator, and set the root password.</p>
      <ErrorBanner error={error} />
      <label>
        Admin user
        <input required autoComplete="username" {...field("user")} />
      </label>
      <label>
        Admin password
        <input type="password" required autoComplete="new-password" {...field("password")} />
      </label>
      <label>
        Root password
        <input type="password" autoComplete="new-password" {...field("root_password")} />
      </label>
      <label>
        Email (optional)
        <input type="email" {...field("email")} />
      </label>
      <label>
        Organisation name (optional)
        <input {...field("org_name")} />
      </label>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Setting up…" : "Set up MoleSignal"}
      </button>
    </form>
  );
}
