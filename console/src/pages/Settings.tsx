import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Settings(_props: PageProps) {
  return (
    <Page title="Settings">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
