import { createContext, createElement, useContext, type ReactNode } from 'react';
import type { MastClient } from '@mast/client';

const ClientContext = createContext<MastClient | null>(null);

/** Makes `client` available to the hooks below it. */
export function MastProvider(props: { client: MastClient; children?: ReactNode }): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest `MastProvider`; throws outside one. */
export function useMastClient(): MastClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useMastClient: wrap the tree in <MastProvider client={…}>');
  return client;
}
