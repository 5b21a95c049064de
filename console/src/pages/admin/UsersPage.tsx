import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import type { StoredSession } from "../../api/session";
import { Busy, ConfirmDialog, ErrorBanner, useAsync } from "../../components/ui";

const ROLES = ["viewer", "ingest", "editor", "admin"];

export function UsersPage({ session }: { session: StoredSession }) {
  const users = useAsync(() => api.get<Schemas["UserList"]>("/api/v1/users"), []);
  const [form, setForm] = useState({ user: "", password: "", role: "viewer", email: "" });
  const [error, setError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<Schemas["UserOut"] | null>(null);
  const update = async (user: Schemas["UserOut"], change: Record<string, unknown>) => {
    setError(null);
    try {
      await api.patch(`/api/v1/users/${encodeURIComponent(user.id)}`, change);
      users.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      <form
        class="card row wrap"
        aria-labelledby="new-user-title"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          try {
            const body: Record<string, unknown> = { user: form.user, password: form.password, role: form.role };
            if (form.email) body.email = form.email;
            await api.post("/api/v1/users", body);
            setForm({ user: "", password: "", role: "viewer", email: "" });
            users.reload();
          } catch (caught) {
            setError(caught);
          }
        }}
      >
        <h2 id="new-user-title">New user</h2>
        <label>
          User name
          <input required value={form.user} onInput={(e) => setForm({ ...form, user: e.currentTarget.value })} />
        </label>
        <label>
          Password
          <input
            type="password"
            required
            autoComplete="new-password"
            value={form.password}
            onInput={(e) => setForm({ ...form, password: e.currentTarget.value })}
          />
        </label>
        <label>
          Role
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value })}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Email
          <input type="email" value={form.email} onInput={(e) => setForm({ ...form, email: e.currentTarget.value })} />
        </label>
        <button type="submit" class="primary">
          Create user
        </button>
      </form>
      <ErrorBanner error={error ?? users.error} />
      {users.loading && <Busy label="Loading users…" />}
      {users.data && (
        <div class="table-scroll">
          <table>
            <caption>{users.data.users.length} users</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.users.map((u) => {
                const self = u.user === session.user;
                return (
                  <tr key={u.id}>
                    <th scope="row">{u.user}</th>
                    <td>{u.email}</td>
                    <td>
                      {u.role === "root" || self ? (
                        u.role
                      ) : (
                        <select aria-label={`Role of ${u.user}`} value={u.role} onChange={(e) => void update(u, { role: e.currentTarget.value })}>
                          {ROLES.map((r) => (
                            <option key={r}>{r}</option>
                          ))}
                        </select>
                      )}
                    </td>
                    <td>{u.disabled ? "disabled" : "active"}</td>
                    <td class="row">
                      {!self && u.role !== "root" && (
                        <>
                          <button type="button" onClick={() => void update(u, { disabled: !u.disabled })}>
                            {u.disabled ? `Enable ${u.user}` : `Disable ${u.user}`}
                          </button>
                          <button type="button" class="danger" onClick={() => setDeleting(u)}>
                            Delete {u.user}
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete user ${deleting.user}?`}
          message="Their sessions end and they can no longer sign in."
          confirmLabel="Delete user"
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            const target = deleting;
            setDeleting(null);
            try {
              await api.delete(`/api/v1/users/${encodeURIComponent(target.id)}`);
              users.reload();
            } catch (caught) {
              setError(caught);
            }
          }}
        />
      )}
    </section>
  );
}
