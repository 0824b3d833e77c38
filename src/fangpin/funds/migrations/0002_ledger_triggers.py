# ruff: noqa: S608 — constant SQL, no user input
"""The ledger's invariants, enforced by the database itself (one set per vendor).

1. A posted transaction balances: its legs (at least two) sum to zero fen.
   - PostgreSQL: DEFERRABLE INITIALLY DEFERRED constraint triggers on both the
     header and the legs, checked at commit (or at ``SET CONSTRAINTS … IMMEDIATE``).
   - SQLite: has no deferred triggers and a row trigger on the legs would fire
     mid-transaction, so the header is written unposted, its legs added, and the
     header flipped to posted last; the trigger on that UPDATE checks the sum.
     A header cannot be inserted already posted (it has no legs yet).
2. A posted transaction and its legs never change: UPDATE and DELETE of a posted
   header, and INSERT/UPDATE/DELETE of a posted transaction's legs, are refused.

The one way round (2) is the maintenance switch used by ``fund_data_purge`` to
remove a *synthetic* county's fund data (``synth --replace``, test tear-down):
``SET LOCAL fangpin.ledger_maintenance = 'on'`` on PostgreSQL, a row in the
table ``funds_ledger_maintenance`` (not a model, so never flushed) on SQLite.
"""

from django.db import migrations

ERR_UNBALANCED = "funds: unbalanced ledger transaction: its legs must be two or more and sum to zero (借贷不平衡)"
ERR_IMMUTABLE = "funds: a posted ledger transaction cannot be changed or deleted; post a reversal (已记账凭证不可修改)"
ERR_POSTED_INSERT = (
    "funds: insert a ledger transaction unposted, add its legs, then post it (凭证须先录分录再记账)"
)

SQLITE = [
    "CREATE TABLE IF NOT EXISTS funds_ledger_maintenance (id INTEGER PRIMARY KEY)",
    f"""
    CREATE TRIGGER funds_tx_no_posted_insert BEFORE INSERT ON funds_ledgertransaction
    WHEN NEW.posted
    BEGIN SELECT RAISE(ABORT, '{ERR_POSTED_INSERT}'); END
    """,
    f"""
    CREATE TRIGGER funds_tx_balanced_on_post BEFORE UPDATE ON funds_ledgertransaction
    WHEN NEW.posted AND NOT OLD.posted
    BEGIN
      SELECT RAISE(ABORT, '{ERR_UNBALANCED}')
      WHERE (SELECT COALESCE(SUM(amount), 0) FROM funds_leg WHERE transaction_id = NEW.id) <> 0
         OR (SELECT COUNT(*) FROM funds_leg WHERE transaction_id = NEW.id) < 2;
    END
    """,
    f"""
    CREATE TRIGGER funds_tx_posted_no_update BEFORE UPDATE ON funds_ledgertransaction
    WHEN OLD.posted AND NOT EXISTS (SELECT 1 FROM funds_ledger_maintenance)
    BEGIN SELECT RAISE(ABORT, '{ERR_IMMUTABLE}'); END
    """,
    f"""
    CREATE TRIGGER funds_tx_posted_no_delete BEFORE DELETE ON funds_ledgertransaction
    WHEN OLD.posted AND NOT EXISTS (SELECT 1 FROM funds_ledger_maintenance)
    BEGIN SELECT RAISE(ABORT, '{ERR_IMMUTABLE}'); END
    """,
    f"""
    CREATE TRIGGER funds_leg_posted_no_insert BEFORE INSERT ON funds_leg
    WHEN (SELECT posted FROM funds_ledgertransaction WHERE id = NEW.transaction_id)
    BEGIN SELECT RAISE(ABORT, '{ERR_IMMUTABLE}'); END
    """,
    f"""
    CREATE TRIGGER funds_leg_posted_no_update BEFORE UPDATE ON funds_leg
    WHEN ((SELECT posted FROM funds_ledgertransaction WHERE id = OLD.transaction_id)
          OR (SELECT posted FROM funds_ledgertransaction WHERE id = NEW.transaction_id))
         AND NOT EXISTS (SELECT 1 FROM funds_ledger_maintenance)
    BEGIN SELECT RAISE(ABORT, '{ERR_IMMUTABLE}'); END
    """,
    f"""
    CREATE TRIGGER funds_leg_posted_no_delete BEFORE DELETE ON funds_leg
    WHEN (SELECT posted FROM funds_ledgertransaction WHERE id = OLD.transaction_id)
         AND NOT EXISTS (SELECT 1 FROM funds_ledger_maintenance)
    BEGIN SELECT RAISE(ABORT, '{ERR_IMMUTABLE}'); END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS funds_leg_posted_no_delete",
    "DROP TRIGGER IF EXISTS funds_leg_posted_no_update",
    "DROP TRIGGER IF EXISTS funds_leg_posted_no_insert",
    "DROP TRIGGER IF EXISTS funds_tx_posted_no_delete",
    "DROP TRIGGER IF EXISTS funds_tx_posted_no_update",
    "DROP TRIGGER IF EXISTS funds_tx_balanced_on_post",
    "DROP TRIGGER IF EXISTS funds_tx_no_posted_insert",
    "DROP TABLE IF EXISTS funds_ledger_maintenance",
]

MAINTENANCE_PG = "coalesce(current_setting('fangpin.ledger_maintenance', true), '') = 'on'"

POSTGRESQL = [
    f"""
    CREATE FUNCTION funds_check_balanced(tx_id bigint) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      is_posted boolean;
      total bigint;
      n integer;
    BEGIN
      SELECT posted INTO is_posted FROM funds_ledgertransaction WHERE id = tx_id;
      IF NOT FOUND OR NOT is_posted THEN
        RETURN;
      END IF;
      SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, n FROM funds_leg WHERE transaction_id = tx_id;
      IF total <> 0 OR n < 2 THEN
        RAISE EXCEPTION '{ERR_UNBALANCED}'
          USING ERRCODE = 'check_violation',
                DETAIL = format('transaction %s: %s legs summing to %s fen', tx_id, n, total);
      END IF;
    END $$
    """,
    """
    CREATE FUNCTION funds_tx_balanced_trg() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM funds_check_balanced(NEW.id);
      RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER funds_tx_balanced
      AFTER INSERT OR UPDATE ON funds_ledgertransaction
      DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION funds_tx_balanced_trg()
    """,
    """
    CREATE FUNCTION funds_leg_balanced_trg() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM funds_check_balanced(OLD.transaction_id);
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM funds_check_balanced(NEW.transaction_id);
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER funds_leg_balanced
      AFTER INSERT OR UPDATE OR DELETE ON funds_leg
      DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION funds_leg_balanced_trg()
    """,
    f"""
    CREATE FUNCTION funds_tx_immutable_trg() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.posted AND NOT {MAINTENANCE_PG} THEN
        RAISE EXCEPTION '{ERR_IMMUTABLE}' USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      IF TG_OP = 'DELETE' THEN
        RETURN OLD;
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER funds_tx_immutable BEFORE UPDATE OR DELETE ON funds_ledgertransaction
      FOR EACH ROW EXECUTE FUNCTION funds_tx_immutable_trg()
    """,
    f"""
    CREATE FUNCTION funds_leg_immutable_trg() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        IF (SELECT posted FROM funds_ledgertransaction WHERE id = NEW.transaction_id) THEN
          RAISE EXCEPTION '{ERR_IMMUTABLE}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
      END IF;
      IF NOT {MAINTENANCE_PG} AND (
           (SELECT posted FROM funds_ledgertransaction WHERE id = OLD.transaction_id)
           OR (TG_OP = 'UPDATE' AND (SELECT posted FROM funds_ledgertransaction WHERE id = NEW.transaction_id))
         ) THEN
        RAISE EXCEPTION '{ERR_IMMUTABLE}' USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      IF TG_OP = 'DELETE' THEN
        RETURN OLD;
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER funds_leg_immutable BEFORE INSERT OR UPDATE OR DELETE ON funds_leg
      FOR EACH ROW EXECUTE FUNCTION funds_leg_immutable_trg()
    """,
]

POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS funds_leg_immutable ON funds_leg",
    "DROP FUNCTION IF EXISTS funds_leg_immutable_trg()",
    "DROP TRIGGER IF EXISTS funds_tx_immutable ON funds_ledgertransaction",
    "DROP FUNCTION IF EXISTS funds_tx_immutable_trg()",
    "DROP TRIGGER IF EXISTS funds_leg_balanced ON funds_leg",
    "DROP FUNCTION IF EXISTS funds_leg_balanced_trg()",
    "DROP TRIGGER IF EXISTS funds_tx_balanced ON funds_ledgertransaction",
    "DROP FUNCTION IF EXISTS funds_tx_balanced_trg()",
    "DROP FUNCTION IF EXISTS funds_check_balanced(bigint)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(
                f"the funds ledger has no database invariants for {schema_editor.connection.vendor!r}; "
                "Fangpin supports SQLite and PostgreSQL"
            )
        for sql in statements:
            schema_editor.execute(sql, None)  # no params: the PL/pgSQL bodies contain %

    return run


class Migration(migrations.Migration):
    dependencies = [("funds", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
    ]
