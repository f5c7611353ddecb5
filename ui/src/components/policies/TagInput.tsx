import { useId, useState, type KeyboardEvent } from 'react'

interface Props {
  label: string
  name: string
  values: string[]
  onChange: (values: string[]) => void
  suggestions?: string[]
  placeholder?: string
  error?: string
  help?: string
}

/**
 * A list of values as removable chips; Enter, comma or leaving the field adds what was typed.
 * Suggestions (what exists to target) come through a datalist.
 */
export function TagInput({ label, name, values, onChange, suggestions = [], placeholder, error, help }: Props) {
  const [draft, setDraft] = useState('')
  const listId = useId()
  const inputId = useId()

  const add = (raw: string) => {
    const parts = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    if (!parts.length) return
    const next = [...values]
    for (const p of parts) {
      if (!next.some((v) => v.toLowerCase() === p.toLowerCase())) next.push(p)
    }
    onChange(next)
    setDraft('')
  }
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter' || e.key === ',') {
      e.preventDefault()
      add(draft)
    } else if (e.key === 'Backspace' && !draft && values.length) {
      onChange(values.slice(0, -1))
    }
  }
  const offered = suggestions.filter((s) => !values.some((v) => v.toLowerCase() === s.toLowerCase()))

  return (
    <div className="flex flex-col gap-1" data-testid={`tags-${name}`}>
      <label htmlFor={inputId} className="text-xs font-medium text-slate-600 dark:text-slate-300">
        {label}
      </label>
      <div
        className={`flex min-h-9 flex-wrap items-center gap-1 rounded-md border bg-white px-1.5 py-1 dark:bg-slate-900 ${
          error ? 'border-red-500' : 'border-slate-300 dark:border-slate-700'
        }`}
      >
        {values.map((v) => (
          <span
            key={v}
            data-testid="tag-chip"
            className="inline-flex items-center gap-1 rounded-full bg-blue-100 px-2 py-0.5 text-xs text-blue-900 dark:bg-blue-950 dark:text-blue-200"
          >
            {v}
            <button type="button" aria-label={`Remove ${v}`} onClick={() => onChange(values.filter((x) => x !== v))}>
              ✕
            </button>
          </span>
        ))}
        <input
          id={inputId}
          name={name}
          list={listId}
          value={draft}
          placeholder={values.length ? '' : placeholder}
          onChange={(e) => {
            const v = e.target.value
            // a value picked from the datalist arrives whole (not typed): take it at once
            const kind = (e.nativeEvent as InputEvent).inputType
            if ((kind === undefined || kind === 'insertReplacementText') && offered.includes(v)) add(v)
            else setDraft(v)
          }}
          onKeyDown={onKey}
          onBlur={() => add(draft)}
          aria-invalid={error ? true : undefined}
          className="min-w-32 flex-1 bg-transparent px-1 py-0.5 text-sm outline-none"
        />
        <datalist id={listId}>
          {offered.slice(0, 200).map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
      </div>
      {error ? (
        <p className="text-xs text-red-600 dark:text-red-400" role="alert">
          {error}
        </p>
      ) : help ? (
        <p className="text-xs text-slate-500">{help}</p>
      ) : null}
    </div>
  )
}
