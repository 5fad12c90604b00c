import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Profile(_props: PageProps) {
  return (
    <Page title="Profile">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
