import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Engage(_props: PageProps) {
  return (
    <Page title="Engage">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
