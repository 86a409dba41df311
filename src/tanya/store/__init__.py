"""The index folder: manifest, SQLite (articles, chunks, keyword index) and FAISS vectors."""
