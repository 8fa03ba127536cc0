"""Server-rendered pages, thin: people's pages (people), accounts, health, and the staff pages (staff)."""
