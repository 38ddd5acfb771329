// React 18 ships no type declarations and @types/react is not a dependency: the GraphiQL page needs only these.
declare module 'react' {
  export function createElement(type: unknown, props?: Record<string, unknown> | null, ...children: unknown[]): unknown;
}

declare module 'react-dom/client' {
  export function createRoot(container: Element): { render(node: unknown): void };
}
