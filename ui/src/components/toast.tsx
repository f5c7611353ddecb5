import * as Toast from '@radix-ui/react-toast'
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react'

export interface ToastInput {
  title: string
  description?: string
  variant?: 'success' | 'error'
}

interface Item extends ToastInput {
  id: number
}

const ToastContext = createContext<(t: ToastInput) => void>(() => undefined)

export function useToast(): (t: ToastInput) => void {
  return useContext(ToastContext)
}

let nextId = 1

export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<Item[]>([])
  const push = useCallback((t: ToastInput) => {
    setItems((list) => [...list.slice(-4), { ...t, id: nextId++ }])
  }, [])
  const remove = (id: number) => setItems((list) => list.filter((i) => i.id !== id))

  return (
    <ToastContext.Provider value={push}>
      <Toast.Provider swipeDirection="right" duration={5000}>
        {children}
        {items.map((t) => (
          <Toast.Root
            key={t.id}
            onOpenChange={(open) => !open && remove(t.id)}
            data-testid="toast"
            data-variant={t.variant ?? 'success'}
            className={`rounded-md border px-4 py-3 shadow-lg ${
              t.variant === 'error'
                ? 'border-red-300 bg-red-50 text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100'
                : 'border-green-300 bg-green-50 text-green-900 dark:border-green-700 dark:bg-green-950 dark:text-green-100'
            }`}
          >
            <div className="flex items-start gap-3">
              <div className="flex-1">
                <Toast.Title className="text-sm font-semibold">{t.title}</Toast.Title>
                {t.description && (
                  <Toast.Description className="mt-1 text-sm opacity-90">{t.description}</Toast.Description>
                )}
              </div>
              <Toast.Close aria-label="Dismiss" className="text-sm opacity-60 hover:opacity-100">
                ✕
              </Toast.Close>
            </div>
          </Toast.Root>
        ))}
        <Toast.Viewport className="fixed bottom-4 right-4 z-50 flex w-96 max-w-[100vw] flex-col gap-2 outline-none" />
      </Toast.Provider>
    </ToastContext.Provider>
  )
}
