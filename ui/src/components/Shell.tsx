import * as Menu from '@radix-ui/react-dropdown-menu'
import { useQueryClient } from '@tanstack/react-query'
import { NavLink, Outlet, useNavigate } from 'react-router-dom'
import { ApiError, api, errorMessage } from '../lib/api'
import { useLiveUpdates } from '../lib/live'
import { useMe } from '../lib/queries'
import { useTheme } from '../lib/theme'
import { ErrorState, Loading } from './states'
import { useToast } from './toast'

const NAV = [
  { to: '/dashboard', label: 'Dashboard' },
  { to: '/pipelines', label: 'Pipelines' },
  { to: '/workers', label: 'Workers' },
  { to: '/policies', label: 'Policies' },
  { to: '/observability', label: 'Observability' },
  { to: '/settings', label: 'Settings' },
]

export function Shell() {
  const me = useMe()
  const live = useLiveUpdates()
  const [theme, toggleTheme] = useTheme()
  const client = useQueryClient()
  const navigate = useNavigate()
  const toast = useToast()

  const logout = async () => {
    try {
      await api('/api/auth/logout', { method: 'POST', noAuthRedirect: true })
      client.clear()
      navigate('/login')
    } catch (err) {
      toast({ title: 'Logout failed', description: errorMessage(err), variant: 'error' })
    }
  }

  if (me.isPending) return <Loading what="Signing in…" />
  // a 401 has already sent the browser to /login; anything else is shown
  if (me.isError) {
    return me.error instanceof ApiError && me.error.status === 401 ? (
      <Loading what="Redirecting to login…" />
    ) : (
      <ErrorState error={me.error} onRetry={() => void me.refetch()} />
    )
  }

  return (
    <div className="flex min-h-screen">
      <aside className="w-52 shrink-0 border-r border-slate-200 bg-slate-50 dark:border-slate-800 dark:bg-slate-900">
        <div className="px-4 py-4 text-lg font-bold tracking-tight">Pipelogiq</div>
        <nav className="flex flex-col gap-1 px-2" aria-label="Main">
          {NAV.map((n) => (
            <NavLink
              key={n.to}
              to={n.to}
              className={({ isActive }) =>
                `rounded px-3 py-2 text-sm ${
                  isActive
                    ? 'bg-blue-100 font-medium text-blue-900 dark:bg-blue-950 dark:text-blue-200'
                    : 'text-slate-700 hover:bg-slate-200 dark:text-slate-300 dark:hover:bg-slate-800'
                }`
              }
            >
              {n.label}
            </NavLink>
          ))}
        </nav>
      </aside>
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="flex items-center justify-end gap-3 border-b border-slate-200 px-4 py-2 dark:border-slate-800">
          <span
            data-testid="live-state"
            data-state={live}
            className="flex items-center gap-1.5 text-xs text-slate-500"
            title="Live updates over /ws"
          >
            <span
              className={`h-2 w-2 rounded-full ${
                live === 'open' ? 'bg-green-500' : live === 'connecting' ? 'bg-amber-500' : 'bg-red-500'
              }`}
            />
            {live === 'open' ? 'Live' : live === 'connecting' ? 'Connecting' : 'Reconnecting'}
          </span>
          <button onClick={toggleTheme} className="btn" aria-label="Toggle theme" data-testid="theme-toggle">
            {theme === 'dark' ? '☀ Light' : '☾ Dark'}
          </button>
          <Menu.Root>
            <Menu.Trigger asChild>
              <button className="btn" data-testid="user-menu">
                {me.data.name || me.data.email} ▾
              </button>
            </Menu.Trigger>
            <Menu.Portal>
              <Menu.Content
                align="end"
                sideOffset={4}
                className="z-50 min-w-48 rounded-md border border-slate-200 bg-white p-1 shadow-lg dark:border-slate-700 dark:bg-slate-900"
              >
                <div className="px-2 py-1.5 text-xs text-slate-500">
                  {me.data.email} · {me.data.role}
                </div>
                <Menu.Separator className="my-1 h-px bg-slate-200 dark:bg-slate-700" />
                <Menu.Item
                  onSelect={() => void logout()}
                  className="cursor-pointer rounded px-2 py-1.5 text-sm outline-none data-[highlighted]:bg-slate-100 dark:data-[highlighted]:bg-slate-800"
                >
                  Log out
                </Menu.Item>
              </Menu.Content>
            </Menu.Portal>
          </Menu.Root>
        </header>
        <main className="min-w-0 flex-1 p-6">
          <Outlet />
        </main>
      </div>
    </div>
  )
}
