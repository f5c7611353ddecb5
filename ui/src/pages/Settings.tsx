import * as Dialog from '@radix-ui/react-dialog'
import { useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { useSearchParams } from 'react-router-dom'
import { ConfirmButton } from '../components/confirm'
import { Empty, ErrorState, Loading } from '../components/states'
import { useToast } from '../components/toast'
import { api, errorMessage } from '../lib/api'
import { formatTime, relative } from '../lib/format'
import { keys, useApiKeys, useApplications, useMe, useUsers } from '../lib/queries'
import { ROLES, expiryToRfc3339, keyStatus, keyStatusLabel, newUserError, type KeyStatus } from '../lib/settings'
import type { ApiKey, Application, CreatedApiKey, User } from '../lib/types'

const TABLE_WRAP = 'overflow-x-auto rounded-md border border-slate-200 dark:border-slate-800'

export function SettingsPage() {
  const me = useMe()
  const isAdmin = me.data?.role === 'Admin'
  return (
    <div className="space-y-8">
      <h1 className="text-xl font-semibold">Settings</h1>
      <ApplicationsSection />
      {isAdmin && <UsersSection myId={me.data?.id} />}
    </div>
  )
}

// -- applications and their API keys ------------------------------------------------------

function ApplicationsSection() {
  const apps = useApplications()
  const [params, setParams] = useSearchParams()
  const wanted = Number(params.get('app'))
  const selected: Application | undefined =
    apps.data?.find((a) => a.id === wanted) ?? apps.data?.[0]
  const select = (id: number) => {
    const next = new URLSearchParams(params)
    next.set('app', String(id))
    setParams(next, { replace: true })
  }

  return (
    <section className="space-y-6" aria-labelledby="applications-heading">
      <div>
        <h2 id="applications-heading" className="mb-3 text-lg font-semibold">
          Applications
        </h2>
        <CreateApplicationForm onCreated={select} />
        {apps.isPending ? (
          <Loading />
        ) : apps.isError ? (
          <ErrorState error={apps.error} onRetry={() => void apps.refetch()} />
        ) : apps.data.length === 0 ? (
          <Empty>No applications yet. Create one above to issue API keys for it.</Empty>
        ) : (
          <div className={TABLE_WRAP}>
            <table className="table" data-testid="applications-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Description</th>
                  <th>Created</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {apps.data.map((a) => {
                  const isSelected = a.id === selected?.id
                  return (
                    <tr
                      key={a.id}
                      data-testid="application-row"
                      data-name={a.name}
                      data-selected={isSelected}
                      className={isSelected ? 'bg-blue-50 dark:bg-blue-950/40' : undefined}
                    >
                      <td className="font-medium">{a.name}</td>
                      <td className="text-slate-600 dark:text-slate-300">{a.description || '—'}</td>
                      <td className="whitespace-nowrap">{formatTime(a.createdAt)}</td>
                      <td className="text-right">
                        <button
                          className="btn btn-sm"
                          disabled={isSelected}
                          aria-pressed={isSelected}
                          onClick={() => select(a.id)}
                        >
                          {isSelected ? 'Selected' : 'API keys'}
                        </button>
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
        )}
      </div>
      {selected && <ApiKeysSection app={selected} />}
    </section>
  )
}

function CreateApplicationForm({ onCreated }: { onCreated: (id: number) => void }) {
  const client = useQueryClient()
  const toast = useToast()
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const [busy, setBusy] = useState(false)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const trimmed = name.trim()
    if (!trimmed) return
    setBusy(true)
    try {
      const created = await api<Application>('/api/applications', {
        method: 'POST',
        body: { name: trimmed, description: description.trim() || undefined },
      })
      toast({ title: `Application "${created.name}" created` })
      setName('')
      setDescription('')
      // the creator is now a member: /api/auth/me lists it among their applications
      await Promise.all([
        client.invalidateQueries({ queryKey: keys.applications }),
        client.invalidateQueries({ queryKey: keys.me }),
      ])
      onCreated(created.id)
    } catch (err) {
      toast({ title: 'Could not create the application', description: errorMessage(err), variant: 'error' })
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="mb-3 flex flex-wrap items-end gap-2" data-testid="create-application">
      <label className="flex flex-col gap-1 text-xs text-slate-500">
        Name
        <input className="input w-56" name="appName" value={name} maxLength={200} required onChange={(e) => setName(e.target.value)} />
      </label>
      <label className="flex flex-col gap-1 text-xs text-slate-500">
        Description (optional)
        <input className="input w-80" name="appDescription" value={description} maxLength={2000} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <button type="submit" className="btn btn-primary" disabled={busy || !name.trim()}>
        {busy ? 'Creating…' : 'Create application'}
      </button>
    </form>
  )
}

const STATUS_CLASS: Record<KeyStatus, string> = {
  active: 'bg-green-100 text-green-800 ring-green-300 dark:bg-green-950 dark:text-green-300 dark:ring-green-700',
  expired: 'bg-amber-100 text-amber-800 ring-amber-300 dark:bg-amber-950 dark:text-amber-300 dark:ring-amber-700',
  disabled: 'bg-slate-200 text-slate-700 ring-slate-400 dark:bg-slate-800 dark:text-slate-300 dark:ring-slate-600',
}

function KeyStatusBadge({ apiKey }: { apiKey: ApiKey }) {
  const status = keyStatus(apiKey)
  return (
    <span
      data-testid="api-key-status"
      data-status={status}
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS_CLASS[status]}`}
    >
      {keyStatusLabel(status)}
    </span>
  )
}

function ApiKeysSection({ app }: { app: Application }) {
  const list = useApiKeys(app.id)
  const client = useQueryClient()
  const toast = useToast()

  const disable = async (k: ApiKey) => {
    try {
      await api<ApiKey>(`/api/apikeys/${k.id}/disable`, { method: 'POST' })
      toast({ title: `API key "${k.name}" disabled` })
    } catch (err) {
      toast({ title: 'Could not disable the key', description: errorMessage(err), variant: 'error' })
    } finally {
      await client.invalidateQueries({ queryKey: keys.apiKeys(app.id) })
    }
  }

  return (
    <div data-testid="api-keys" data-application={app.name}>
      <h3 className="mb-3 text-base font-semibold">
        API keys for <span className="font-mono">{app.name}</span>
      </h3>
      <CreateKeyForm app={app} />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.length === 0 ? (
        <Empty>This application has no API keys yet. Workers and SDK clients need one to connect.</Empty>
      ) : (
        <div className={TABLE_WRAP}>
          <table className="table" data-testid="api-keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Prefix</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((k) => (
                <tr key={k.id} data-testid="api-key-row" data-id={k.id} data-name={k.name}>
                  <td className="font-medium">{k.name}</td>
                  <td>
                    <code className="rounded bg-slate-100 px-1 text-xs dark:bg-slate-800">{k.prefix}…</code>
                  </td>
                  <td className="whitespace-nowrap">{formatTime(k.createdAt)}</td>
                  <td className="whitespace-nowrap">{k.expiresAt ? formatTime(k.expiresAt) : 'Never'}</td>
                  <td className="whitespace-nowrap" title={formatTime(k.lastUsedAt)}>
                    {k.lastUsedAt ? relative(k.lastUsedAt) : 'Never'}
                  </td>
                  <td>
                    <KeyStatusBadge apiKey={k} />
                  </td>
                  <td className="text-right">
                    {keyStatus(k) !== 'disabled' && (
                      <ConfirmButton
                        title={`Disable API key "${k.name}"?`}
                        description="Clients using this key are refused from now on. A disabled key cannot be enabled again; create a new one instead."
                        confirmLabel="Disable key"
                        danger
                        onConfirm={() => disable(k)}
                        trigger={<button className="btn btn-sm">Disable</button>}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}

function CreateKeyForm({ app }: { app: Application }) {
  const client = useQueryClient()
  const toast = useToast()
  const [name, setName] = useState('')
  const [expiry, setExpiry] = useState('')
  const [busy, setBusy] = useState(false)
  const [created, setCreated] = useState<CreatedApiKey | null>(null)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const expiresAt = expiryToRfc3339(expiry)
    if (!expiresAt.ok) {
      toast({ title: 'Check the expiry date', description: expiresAt.error, variant: 'error' })
      return
    }
    setBusy(true)
    try {
      const key = await api<CreatedApiKey>('/api/apikeys', {
        method: 'POST',
        body: { applicationId: app.id, name: name.trim() || undefined, expiresAt: expiresAt.value },
      })
      setCreated(key)
      setName('')
      setExpiry('')
      toast({ title: `API key "${key.name}" created` })
      void client.invalidateQueries({ queryKey: keys.apiKeys(app.id) })
    } catch (err) {
      toast({ title: 'Could not create the key', description: errorMessage(err), variant: 'error' })
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <form onSubmit={(e) => void submit(e)} className="mb-3 flex flex-wrap items-end gap-2" data-testid="create-api-key">
        <label className="flex flex-col gap-1 text-xs text-slate-500">
          Key name
          <input className="input w-56" name="keyName" value={name} maxLength={200} placeholder="key" onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="flex flex-col gap-1 text-xs text-slate-500">
          Expires (optional)
          <input className="input" type="date" name="keyExpiry" value={expiry} onChange={(e) => setExpiry(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      <SecretDialog created={created} onClose={() => setCreated(null)} />
    </>
  )
}

/** Shows a new key's secret once; closing drops it from state (and so from the page). */
function SecretDialog({ created, onClose }: { created: CreatedApiKey | null; onClose: () => void }) {
  const toast = useToast()
  const copy = async (secret: string) => {
    try {
      await navigator.clipboard.writeText(secret)
      toast({ title: 'API key copied to the clipboard' })
    } catch (err) {
      toast({ title: 'Could not copy', description: `${errorMessage(err)} — select the key and copy it by hand.`, variant: 'error' })
    }
  }
  return (
    <Dialog.Root open={created !== null} onOpenChange={(open) => !open && onClose()}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-black/40" />
        <Dialog.Content
          data-testid="api-key-created"
          className="fixed left-1/2 top-1/2 z-50 w-[34rem] max-w-[95vw] -translate-x-1/2 -translate-y-1/2 rounded-lg bg-white p-5 shadow-xl dark:bg-slate-900"
        >
          <Dialog.Title className="text-base font-semibold">API key "{created?.name}" created</Dialog.Title>
          <Dialog.Description className="mt-2 text-sm text-slate-600 dark:text-slate-300">
            Copy this key now and store it somewhere safe. <strong>It will not be shown again</strong>; if it is
            lost, disable it and create a new one.
          </Dialog.Description>
          {created && (
            <div className="mt-4 flex items-center gap-2">
              <code
                data-testid="api-key-secret"
                className="flex-1 select-all break-all rounded border border-slate-200 bg-slate-50 px-2 py-1.5 font-mono text-sm dark:border-slate-700 dark:bg-slate-800"
              >
                {created.key}
              </code>
              <button className="btn" onClick={() => void copy(created.key)} data-testid="api-key-copy">
                Copy
              </button>
            </div>
          )}
          <div className="mt-5 flex justify-end">
            <Dialog.Close asChild>
              <button className="btn btn-primary">Done</button>
            </Dialog.Close>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  )
}

// -- users (Admin) ------------------------------------------------------------------------

function UsersSection({ myId }: { myId: number | undefined }) {
  const users = useUsers(true)
  const client = useQueryClient()
  const toast = useToast()

  const setDisabled = async (u: User, disabled: boolean) => {
    try {
      await api<User>(`/api/users/${u.id}/${disabled ? 'disable' : 'enable'}`, { method: 'POST' })
      toast({ title: `${u.email} ${disabled ? 'disabled' : 'enabled'}` })
    } catch (err) {
      toast({
        title: `Could not ${disabled ? 'disable' : 'enable'} the user`,
        description: errorMessage(err),
        variant: 'error',
      })
    } finally {
      await client.invalidateQueries({ queryKey: keys.users })
    }
  }

  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading" className="mb-3 text-lg font-semibold">
        Users
      </h2>
      <CreateUserForm />
      {users.isPending ? (
        <Loading />
      ) : users.isError ? (
        <ErrorState error={users.error} onRetry={() => void users.refetch()} />
      ) : users.data.length === 0 ? (
        <Empty>No users yet.</Empty>
      ) : (
        <div className={TABLE_WRAP}>
          <table className="table" data-testid="users-table">
            <thead>
              <tr>
                <th>Email</th>
                <th>Name</th>
                <th>Role</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id} data-testid="user-row" data-email={u.email} data-disabled={u.disabled}>
                  <td className="font-medium">{u.email}</td>
                  <td>{u.name || '—'}</td>
                  <td>{u.role === 'RegularUser' ? 'Regular user' : u.role}</td>
                  <td>
                    {u.disabled ? (
                      <span className="text-slate-500" title={formatTime(u.disabledAt)}>
                        Disabled
                      </span>
                    ) : (
                      <span className="text-green-700 dark:text-green-400">Active</span>
                    )}
                  </td>
                  <td className="text-right">
                    {u.id === myId ? (
                      <span className="text-xs text-slate-400">you</span>
                    ) : u.disabled ? (
                      <ConfirmButton
                        title={`Enable ${u.email}?`}
                        description="They can log in again with their password."
                        confirmLabel="Enable user"
                        onConfirm={() => setDisabled(u, false)}
                        trigger={<button className="btn btn-sm">Enable</button>}
                      />
                    ) : (
                      <ConfirmButton
                        title={`Disable ${u.email}?`}
                        description="They are logged out and cannot log in until enabled again."
                        confirmLabel="Disable user"
                        danger
                        onConfirm={() => setDisabled(u, true)}
                        trigger={<button className="btn btn-sm">Disable</button>}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

function CreateUserForm() {
  const client = useQueryClient()
  const toast = useToast()
  const empty = { email: '', name: '', password: '', role: 'RegularUser' }
  const [form, setForm] = useState(empty)
  const [busy, setBusy] = useState(false)
  const problem = newUserError(form)
  const set = (field: keyof typeof empty) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [field]: e.target.value }))

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (problem) {
      toast({ title: 'Check the new user', description: problem, variant: 'error' })
      return
    }
    setBusy(true)
    try {
      const created = await api<User>('/api/users', {
        method: 'POST',
        body: { email: form.email.trim(), name: form.name.trim(), password: form.password, role: form.role },
      })
      toast({ title: `User ${created.email} created` })
      setForm(empty)
      await client.invalidateQueries({ queryKey: keys.users })
    } catch (err) {
      toast({ title: 'Could not create the user', description: errorMessage(err), variant: 'error' })
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="mb-3 flex flex-wrap items-end gap-2" data-testid="create-user">
      <label className="flex flex-col gap-1 text-xs text-slate-500">
        Email
        <input className="input w-56" type="email" name="userEmail" autoComplete="off" value={form.email} onChange={set('email')} />
      </label>
      <label className="flex flex-col gap-1 text-xs text-slate-500">
        Name
        <input className="input w-44" name="userName" autoComplete="off" value={form.name} onChange={set('name')} />
      </label>
      <label className="flex flex-col gap-1 text-xs text-slate-500">
        Password (8+ characters)
        <input className="input w-44" type="password" name="userPassword" autoComplete="new-password" value={form.password} onChange={set('password')} />
      </label>
      <label className="flex flex-col gap-1 text-xs text-slate-500">
        Role
        <select className="input" name="userRole" value={form.role} onChange={set('role')}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r === 'RegularUser' ? 'Regular user' : r}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="btn btn-primary" disabled={busy || problem !== null} title={problem ?? undefined}>
        {busy ? 'Creating…' : 'Create user'}
      </button>
    </form>
  )
}
