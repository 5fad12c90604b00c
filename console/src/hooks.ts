import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, get } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** GET `path` (again whenever it changes, or on `reload`); null skips the request. */
export function useGet<T>(path: string | null, refreshSeconds = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    if (path === null) return;
    const call = ++latest.current;
    setLoading(true);
    get<T>(path)
      .then((found) => {
        if (call !== latest.current) return;
        setData(found);
        setError(undefined);
      })
      .catch((failed: unknown) => {
        if (call !== latest.current) return;
        setError(failed instanceof ApiError ? failed : new ApiError(0, "error", String(failed)));
      })
      .finally(() => {
        if (call === latest.current) setLoading(false);
      });
  }, [path, tick]);
  useEffect(() => {
    if (refreshSeconds <= 0) return;
    const timer = setInterval(() => setTick((n) => n + 1), refreshSeconds * 1000);
    return () => clearInterval(timer);
  }, [refreshSeconds]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}
