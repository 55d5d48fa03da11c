"""`manage.py erase_customer <id> [--yes]`: erase one customer's personal content for good.

The same erasure as the admin's "Erase personal content" action (cases.erasure), recorded as
done from the command line. Without --yes it says what it will erase and asks first.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.erasure import do_erase_customer
from cases.models import Customer, CustomerErasure


class Command(BaseCommand):
    help = "Erase one customer's identities, posts and quoted words (cases stay, without them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", type=int)
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: object, customer_id: int, yes: bool, **options: object) -> None:
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer with id {customer_id}.")
        cases = customer.cases.count()
        identities = customer.identities.count()
        if not yes:
            answer = input(
                f"Erase customer #{customer_id} ({identities} identities, {cases} cases)? "
                "This cannot be undone. Type 'erase' to go on: "
            )
            if answer.strip().lower() != "erase":
                raise CommandError("Nothing erased.")
        record = do_erase_customer(customer, actor=None, via=CustomerErasure.Via.COMMAND)
        self.stdout.write(
            f"Erased customer #{record.customer_id}: {identities} identities, {cases} cases "
            "kept without personal content."
        )
