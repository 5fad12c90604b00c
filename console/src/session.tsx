// Who is signed in and what they may do. The server checks every request; the console only
// hides what a role cannot use, so a read-only user sees no edit controls.
import { createContext, useContext, type ReactNode } from "react";

export interface User {
  id: string;
  email: string;
  roles: string[];
  piiAccess: boolean;
}

export interface Session {
  user: User;
  permissions: Set<string>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error("useSession outside a signed-in console");
  return session;
}

/** Whether the signed-in user has `permission` on at least one resource. */
export function useCan(permission: string): boolean {
  const { permissions } = useSession();
  return permissions.has(permission);
}

/** Its children only for a user with `permission`: edit controls vanish for read-only roles. */
export function Can({ permission, children }: { permission: string; children: ReactNode }) {
  return useCan(permission) ? <>{children}</> : null;
}
