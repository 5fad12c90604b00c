import { useState } from "react";
import { AuditTrail } from "../components/settings/AuditTrail";
import { Retention } from "../components/settings/Retention";
import { Tokens } from "../components/settings/Tokens";
import { Users } from "../components/settings/Users";
import "../components/settings/settings.css";
import { Empty, Page, Tabs } from "../components/ui";
import type { PageProps } from "../pages";
import { useSession } from "../session";

type Tab = "users" | "tokens" | "audit" | "retention";

// Each tab shows only for a role that may use it; the server checks every request too.
const TABS: { id: Tab; label: string; permission: string }[] = [
  { id: "users", label: "Users and roles", permission: "users:manage" },
  { id: "tokens", label: "Access tokens", permission: "tokens:manage" },
  { id: "audit", label: "Audit trail", permission: "audit:read" },
  { id: "retention", label: "Data retention", permission: "privacy:read" },
];

export default function Settings(_props: PageProps) {
  const { permissions } = useSession();
  const visible = TABS.filter((t) => permissions.has(t.permission));
  const [tab, setTab] = useState<Tab | undefined>(visible[0]?.id);
  const current = visible.find((t) => t.id === tab)?.id ?? visible[0]?.id;
  return (
    <Page title="Settings">
      {current === undefined ? (
        <Empty>Your roles include no workspace settings. A workspace owner manages users, tokens and the audit trail.</Empty>
      ) : (
        <>
          <Tabs label="Settings" tabs={visible} current={current} onChange={setTab} />
          {current === "users" ? <Users /> : null}
          {current === "tokens" ? <Tokens /> : null}
          {current === "audit" ? <AuditTrail /> : null}
          {current === "retention" ? <Retention /> : null}
        </>
      )}
    </Page>
  );
}
