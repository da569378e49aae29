// Who uses the UI, for the pages that depend on it (the admin-only audit
// trail): null on a server without --auth, where every caller may do all.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { SessionUser } from '../api/session';

export interface Viewer {
  auth: boolean;
  user: SessionUser | null;
}

export const ViewerContext = createContext<Viewer>({ auth: false, user: null });

export function useViewer(): Viewer {
  return useContext(ViewerContext);
}

// Whether the viewer may see admin pages: everyone without --auth.
export function isAdmin(viewer: Viewer): boolean {
  return !viewer.auth || viewer.user?.is_admin === true;
}
