// Privacy: the data inventory, PII matchers and controls, consent categories and regulations.
import { Card, Page, Tabs } from "../components/ui";
import { Inventory } from "../components/privacy/Inventory";
import { ConsentCategories, PiiControls, PiiMatchers } from "../components/privacy/PiiSections";
import { Regulations } from "../components/privacy/Regulations";
import "../components/privacy/privacy.css";
import type { PageProps } from "../pages";
import { navigate, useLocation } from "../router";
import { useSession } from "../session";

const TABS = [
  { id: "inventory", label: "Data inventory", permission: "inventory:read" },
  { id: "pii", label: "PII matchers and controls", permission: "privacy:read" },
  { id: "consent", label: "Consent categories", permission: "privacy:read" },
  { id: "regulations", label: "Regulations", permission: "regulations:read" },
] as const;

type Tab = (typeof TABS)[number]["id"];

export default function Privacy(_props: PageProps) {
  const { params } = useLocation();
  const { permissions } = useSession();
  const visible = TABS.filter((t) => permissions.has(t.permission));
  const asked = params.get("tab");
  const current: Tab | undefined = (visible.find((t) => t.id === asked) ?? visible[0])?.id;
  return (
    <Page title="Privacy">
      <Tabs label="Privacy" tabs={visible} current={current ?? "inventory"} onChange={(id) => navigate(`/privacy?tab=${id}`, true)} />
      <div role="tabpanel" aria-label={TABS.find((t) => t.id === current)?.label ?? "Privacy"} className="page">
        {current === "inventory" ? <Inventory /> : null}
        {current === "pii" ? (
          <>
            <PiiControls />
            <PiiMatchers />
          </>
        ) : null}
        {current === "consent" ? <ConsentCategories /> : null}
        {current === "regulations" ? <Regulations /> : null}
        {current === undefined ? <Card>Your roles do not include any part of Privacy.</Card> : null}
      </div>
    </Page>
  );
}
